"""Does pw.x's estimated accuracy after the first iterations tell which start converges first?

For each structure and each of two models, rhocat's warm start (``predict_restart``) is run
by pw.x for ``--steps`` iterations only (``electron_maxstep``; iteration counts are
deterministic, so these are the first iterations of the full runs in ``--comparison``, a
``compare_val_scf.py`` output made at the same thresholds) and its estimated SCF accuracy
(Ry) per iteration is kept. Then, over the cells, the Spearman rank correlation between the
per-cell difference of log10(accuracy after iteration k) (B − A) and the difference of the
full runs' iterations (B − A), for k = 1 .. steps: a useful early score correlates
positively. Writes JSON.

    python benchmarks/early_accuracy.py \
        --model shipped=src/rhocat/pretrained/default.pt:0.01 \
        --model seeds59=benchmarks/checkpoints/seeds59-8000.pt:0.01 \
        --comparison benchmarks/results_val_scf_seeds59.json [--steps 3] \
        [-o benchmarks/results_early_accuracy.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from first_threshold import predicted_start  # noqa: E402


def early_trace(model, sample, family, work: Path, threshold: float, steps: int) -> list[float]:
    """pw.x's estimated accuracy (Ry) after each of the first ``steps`` iterations from the
    model's warm start, at first diagonalization threshold ``threshold``."""
    from rhocat.qe.scf import run_scf

    atoms, params, start = predicted_start(model, sample, family, work / "pred")
    over = {"electrons": {"diago_thr_init": threshold, "electron_maxstep": steps}}
    res = run_scf(atoms, family=family, start=start, parameters=params,
                  overrides=over, workdir=work / "run", ranks=1)  # fmt: skip
    return [float(x) for x in res.scf_accuracy_ry[:steps]]


def rank_correlations(traces: dict, iterations: dict, a: str, b: str, steps: int) -> dict:
    """Spearman ρ (and p) per iteration k between Δlog10(accuracy_k) and Δiterations (b − a),
    over the cells both traces reach k in; ``traces[model][cell]``, ``iterations[model][cell]``."""
    from scipy.stats import spearmanr

    out = {}
    for k in range(steps):
        cells = [c for c in traces[a] if len(traces[a][c]) > k and len(traces[b].get(c, [])) > k]
        d_acc = [np.log10(traces[b][c][k]) - np.log10(traces[a][c][k]) for c in cells]
        d_it = [iterations[b][c] - iterations[a][c] for c in cells]
        res = spearmanr(d_acc, d_it)
        out[str(k + 1)] = {
            "spearman": float(res.statistic),
            "p": float(res.pvalue),
            "n": len(cells),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", action="append", required=True, help="NAME=CHECKPOINT:THRESHOLD")
    ap.add_argument("--comparison", required=True, help="compare_val_scf.py output")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--data", default=str(HERE / "dataset" / "dataset"))
    ap.add_argument("-o", "--output", default=str(HERE / "results_early_accuracy.json"))
    args = ap.parse_args(argv)
    specs = {}
    for spec in args.model:
        name, _, rest = spec.partition("=")
        path, _, thr = rest.rpartition(":")
        specs[name] = (path, float(thr))
    comparison = json.loads(Path(args.comparison).read_text())["models"]
    if len(specs) != 2 or not set(specs) <= set(comparison):
        ap.error(f"give two --model NAME=CHECKPOINT:THRESHOLD, NAME among {sorted(comparison)}")
    a, b = list(specs)
    iterations = {
        n: {c: r[comparison[n]["threshold"]] for c, r in comparison[n]["cells"].items()}
        for n in (a, b)
    }
    ds = Dataset(args.data)
    family = load_family(ds.manifest.family)
    out_path = Path(args.output)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {"traces": {}}
    result.update(models={n: list(v) for n, v in specs.items()}, steps=args.steps)
    for name, (path, thr) in specs.items():
        model = load_model(path)
        done = result["traces"].setdefault(name, {})
        for cid in iterations[name]:
            if cid in done:
                continue
            with tempfile.TemporaryDirectory(prefix="rhocat-early-") as tmp:
                done[cid] = early_trace(model, ds.load(cid), family, Path(tmp), thr, args.steps)
            print(name, cid, done[cid], file=sys.stderr, flush=True)
            out_path.write_text(json.dumps(result, indent=1))
    result["correlation"] = rank_correlations(result["traces"], iterations, a, b, args.steps)
    out_path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["correlation"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
