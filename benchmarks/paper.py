"""The benchmark against the paper (issue 7): models side by side on unseen combinations.

On the dataset of ``benchmarks/recipe.py`` (build it first), for each model kind:
train on the ``train`` split (validation on ``val``), then evaluate on
``test_binary`` and ``test_ternary``: pw.x from the ACS (``startingpot='atomic'``,
the paper's baseline) and from the prediction (pw.x's own threshold for a file
start, as a user's restart gets), same parameters, same process.

Prints JSON with, per model and split: the share of positive s-AUC, mean/median
iterations saved, net wall-clock saving (inference included), inference time as
a fraction of one SCF iteration, and the converged-energy difference — with the
number of structures. Writes ``benchmarks/results_paper.json``.

Usage: ``python benchmarks/paper.py [--data DATASET] [--models radial,basis,pointwise]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = {"basis": 600, "pointwise": 300, "radial": None}


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def summarize_rows(rows: list[dict]) -> dict:
    """Per split (and pooled): the figures of the issue's table."""
    out = {}
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("status") != "ok":
            continue
        groups.setdefault(r["split"], []).append(r)
    groups["test (all)"] = [r for g in list(groups.values()) for r in g]
    for name, rs in groups.items():
        sauc = [r["s_auc"] for r in rs if r.get("s_auc") is not None]
        saved = [100 * r["iterations_saved"] for r in rs if r.get("iterations_saved") is not None]
        both = [r for r in rs if r.get("wall_clock_saving") is not None]
        base_t = sum(r["baseline_scf_s"] for r in both)
        warm_t = sum(r["inference_s"] + r["scf_s"] for r in both)
        per_iter = [
            r["inference_s"] / (r["baseline_scf_s"] / r["baseline"]["iterations"])
            for r in both
            if r["baseline"].get("iterations")
        ]
        rel_e = [
            abs(r["energy_diff_ry"] / r["baseline"]["energy_ry"])
            for r in both
            if r.get("energy_diff_ry") is not None and r["baseline"].get("energy_ry")
        ]
        out[name] = {
            "n": len(rs),
            "n_converged_both": len(both),
            "positive_s_auc_percent": 100 * sum(x > 0 for x in sauc) / len(sauc) if sauc else None,
            "s_auc": _stats(sauc),
            "iterations_saved_percent": _stats(saved),
            "net_wall_clock_saving_percent_pooled": 100 * (base_t - warm_t) / base_t
            if base_t
            else None,
            "net_wall_clock_saving_percent": _stats([100 * r["wall_clock_saving"] for r in both]),
            "inference_over_one_scf_iteration_percent": _stats([100 * x for x in per_iter]),
            "energy_relative_difference": _stats(rel_e),
            "becsum_atomic_fallback": sum(r.get("becsum_source") == "atomic-fallback" for r in rs),
            "nmae_percent_model": _stats(
                [100 * r["nmae"] for r in rs if r.get("nmae") is not None]
            ),
            "nmae_percent_acs": _stats(
                [100 * r["nmae_acs"] for r in rs if r.get("nmae_acs") is not None]
            ),
        }
    return out


def main() -> None:
    from rhocat.data.store import Dataset
    from rhocat.evaluate.results import load_rows
    from rhocat.evaluate.runner import evaluate
    from rhocat.train import load_model, train_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE / "data" / "dataset"))
    ap.add_argument("--out", default=str(HERE / "data" / "paper"))
    ap.add_argument("--models", default="radial,basis,pointwise")
    ap.add_argument("--ranks", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = Dataset(args.data)
    result = {
        "dataset": str(Path(args.data).resolve()),
        "structures_per_split": {s: len(ds.ids(split=s)) for s in ds.splits()},
        "models": {},
    }
    for kind in [m for m in args.models.split(",") if m]:
        ckpt = out / f"{kind}.pt"
        t0 = time.perf_counter()
        if not ckpt.exists():
            train_model(ds, model=kind, config="small", steps=STEPS.get(kind), out=ckpt)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluate(
            load_model(ckpt),
            ds,
            out / f"results-{kind}",
            model_path=ckpt,
            splits=("test_binary", "test_ternary"),
            ranks=args.ranks,
            timeout_s=600,
        )
        rows = load_rows(out / f"results-{kind}")
        result["models"][kind] = {
            "train_s": train_s,
            "evaluate_s": time.perf_counter() - t0,
            "checkpoint_bytes": ckpt.stat().st_size,
            "splits": summarize_rows(rows),
        }
    (HERE / "results_paper.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
