"""The basis model's l = 0 baseline alone, ridge scale global vs per element (docs/ablation.md).

The baseline is the ridge fit that initialises every basis model's per-element l = 0 term
(its basis: l = 0 of 10 exponents from 0.25 bohr⁻², ratio 1.8; λ = 10). It is fitted on
each snapshot's train split and judged on its val and unseen-combination test structures
(Hartree share of Δρ captured). ``--lambdas`` scans λ (the key gains ``:lambda=λ`` when
λ ≠ 10).

    python benchmarks/ridge_scale.py benchmarks/dataset/dataset \
        benchmarks/ablation_snapshot.json benchmarks/ablation_snapshot_sp2.json \
        -o benchmarks/results_ridge_scale.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rhocat.data.snapshot import split_snapshot
from rhocat.data.store import Dataset
from rhocat.evaluate.density import density_rows, summarize_density_rows
from rhocat.models.radial import RadialModel

BASELINE_BASIS = {"n_alpha": 10, "alpha_min": 0.25, "ratio": 1.8}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("snapshots", nargs="+")
    ap.add_argument("--lambdas", default="10", help="comma-separated ridge strengths λ")
    ap.add_argument("--scales", default="global,element", help="comma-separated ridge scales")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    lambdas = [float(x) for x in args.lambdas.split(",")]
    ds = Dataset(args.dataset)
    cache: dict = {}

    def load(entry_id):
        if entry_id not in cache:
            cache[entry_id] = ds.load(entry_id)
        return cache[entry_id]

    out = {}
    for snapshot in args.snapshots:
        data = {k: [load(i) for i in v] for k, v in split_snapshot(ds, snapshot).items()}
        test = [s for k, v in data.items() if k.startswith("test") for s in v]
        elements = sorted({int(z) for s in data["train"] for z in s.numbers})
        for scale, lam in [(s, x) for s in args.scales.split(",") for x in lambdas]:
            config = {"basis": BASELINE_BASIS, "ridge_lambda": lam, "ridge_scale": scale}
            model = RadialModel(config, elements)
            t0 = time.perf_counter()
            model.fit(data["train"])
            fit_s = time.perf_counter() - t0
            val, rows = density_rows(model, data["val"]), density_rows(model, test)
            key = f"{Path(snapshot).name}:{scale}" + ("" if lam == 10.0 else f":lambda={lam:g}")
            out[key] = {
                "fit_s": fit_s,
                "val": summarize_density_rows(val),
                "test": summarize_density_rows(rows),
                "per_test": {r["id"]: r["captured_pct"] for r in rows},
            }
            print(key, json.dumps({k: out[key][k] for k in ("val", "test")}), file=sys.stderr)
    Path(args.output).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
