"""Learning curve of the default model: train on 25% / 50% / 100% of the snapshot's train split.

Subsets are seeded samples of the training *cells* (a cell's strained and rattled
copies go with it); the model is the default (5 element-feature basis models, 600
steps each, shrinkage calibrated on val); figures are the Hartree share of Δρ captured
on the snapshot's unseen-combination test structures.

    python benchmarks/learning_curve.py [--fractions 0.25,0.5,1.0] [-o results.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from rhocat.data.snapshot import split_snapshot
from rhocat.evaluate.density import density_rows, summarize_density_rows
from rhocat.train.ensemble import train_member

HERE = Path(__file__).resolve().parent


def parent(entry_id: str) -> str:
    return entry_id.split("~")[0]


def main() -> int:
    from rhocat.data.store import Dataset
    from rhocat.models.ensemble import EnsembleModel, calibrate_shrinkage

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(HERE / "dataset" / "dataset"))
    ap.add_argument("--snapshot", default=str(HERE / "ablation_snapshot.json"))
    ap.add_argument("--fractions", default="0.25,0.5,1.0")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("--workdir", default="/tmp/rhocat-learning-curve")
    ap.add_argument("-o", "--output", default=str(HERE / "results_learning_curve.json"))
    args = ap.parse_args()
    ds = Dataset(args.data)
    snap = split_snapshot(ds, args.snapshot)
    load = {split: [ds.load(i) for i in ids] for split, ids in snap.items()}
    val = load.get("val", [])
    test = [s for split, ss in load.items() if split.startswith("test") for s in ss]
    parents = sorted({parent(s.id) for s in load["train"]})
    out_path = Path(args.output)
    report = json.loads(out_path.read_text()) if out_path.is_file() else {"rows": {}}
    for frac in (float(f) for f in args.fractions.split(",")):
        key = f"{frac:g}"
        if key in report["rows"]:
            continue
        keep = set(random.Random(0).sample(parents, max(1, round(frac * len(parents)))))
        train = [s for s in load["train"] if parent(s.id) in keep]
        workdir = Path(args.workdir) / key
        workdir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        members = []
        for seed in range(args.members):
            path = workdir / f"features-s{seed}-{args.steps}.pt"
            member, _ = train_member(
                train + val, path, seed=seed, element_features=True, steps=args.steps
            )
            members.append(member)
        model = EnsembleModel.from_members(members, shrink_c=0.0)
        model.config["shrink_c"], _ = calibrate_shrinkage(model, val)
        rows = density_rows(model, test)
        report["rows"][key] = {
            "train_cells": len(keep),
            "train_structures": len(train),
            "shrink_c": model.config["shrink_c"],
            "train_s": time.perf_counter() - t0,
            "test": summarize_density_rows(rows),
        }
        out_path.write_text(json.dumps(report, indent=1))
        print(key, json.dumps(report["rows"][key]["test"]), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
