"""Ablation of the density model on a fixed snapshot of the benchmark dataset (issue 10).

One row per change, each trained on the snapshot's train split, chosen on its val split,
and reported on its unseen-combination test structures: Hartree share of Δρ captured
(mean, median, worst), NMAE, validation capture, training and inference time.

    python benchmarks/ablation.py benchmarks/dataset/dataset \
        --snapshot benchmarks/ablation_snapshot.json --steps 600 \
        --rows radial,basis,features,ensemble,features-ensemble \
        -o benchmarks/results_ablation.json

A row name ``ROW@N`` trains that row's members for N steps instead of ``--steps``
(e.g. ``features@3000``: the training-budget ablation).

The snapshot (ids per split) is written on the first run from the entries present then,
and reused afterwards, so that every row sees the same structures while the dataset grows.
Rows already in the output file are kept (resumable); member checkpoints are cached in
``--workdir`` and shared between rows (the ensembles reuse the single models' seeds).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

#: name -> (element_features, members, shrink)
ROWS = {
    "basis": (False, 1, False),
    "features": (True, 1, False),
    "ensemble": (False, 5, False),
    "features-ensemble": (True, 5, False),
    "features-ensemble-shrink": (True, 5, True),
}


def snapshot(ds, path: Path) -> dict:
    """Ids per split, fixed at the first call."""
    if path.is_file():  # keys starting with "_" are notes (e.g. the rule that made it)
        return {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}
    snap = {split: ds.ids(split=split) for split in ds.splits()}
    path.write_text(json.dumps(snap, indent=0))
    return snap


def _member(samples, features: bool, seed: int, steps: int, workdir: Path, config: str):
    from rhocat.train import load_model, train_model
    from rhocat.train.config import resolve_config

    path = workdir / f"{'features' if features else 'embed'}-s{seed}-{steps}.pt"
    times_path = path.with_suffix(".json")
    if path.is_file() and times_path.is_file():
        return load_model(path), json.loads(times_path.read_text())["train_s"]
    cfg = copy.deepcopy(resolve_config("basis", config))
    cfg["model"]["element_features"] = features
    cfg["train"]["seed"] = seed
    t0 = time.perf_counter()
    res = train_model(samples, "basis", cfg, steps=steps, out=path, progress=False)
    train_s = time.perf_counter() - t0
    times_path.write_text(json.dumps({"train_s": train_s, "val": res.val}))
    return load_model(path), train_s


def evaluate_rows(model, samples) -> list[dict]:
    """Per-structure density metrics and inference seconds of ``model`` on ``samples``."""
    from rhocat.models import predict_delta_rho_g
    from rhocat.models.ensemble import EnsembleModel
    from rhocat.train import density_metrics

    rows = []
    for s in samples:
        t = time.perf_counter()
        if isinstance(model, EnsembleModel):
            p = model.predict(s.numbers, s.positions_bohr, s.cell_bohr, s.g_cart)
            pred, extra = p.delta_rho_g.copy(), p.info()
            pred[np.all(np.asarray(s.miller) == 0, axis=1)] = 0.0
        else:
            pred = predict_delta_rho_g(
                model, s.numbers, s.positions_bohr, s.cell_bohr, s.miller, tuple(s.fft_grid)
            )
            extra = {}
        dt = time.perf_counter() - t
        rows.append({"id": s.id, "split": s.split, "inference_s": dt,
                     **density_metrics(s, pred), **extra})  # fmt: skip
    return rows


def summarize(rows: list[dict]) -> dict:
    cap = np.array([r["captured_pct"] for r in rows])
    worst = int(np.argmin(cap))
    return {
        "n": len(rows),
        "captured_mean_pct": float(cap.mean()),
        "captured_median_pct": float(np.median(cap)),
        "captured_worst_pct": float(cap[worst]),
        "worst_id": rows[worst]["id"],
        "negative": int((cap < 0).sum()),
        "nmae_pct": float(np.mean([r["nmae_pct"] for r in rows])),
        "nmae_acs_pct": float(np.mean([r["nmae_acs_pct"] for r in rows])),
        "inference_median_s": float(np.median([r["inference_s"] for r in rows])),
    }


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.models.ensemble import EnsembleModel, calibrate_shrinkage
    from rhocat.train import train_model
    from rhocat.train.checkpoint import checkpoint_dict, save_checkpoint

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("dataset")
    ap.add_argument("--snapshot", required=True, help="ids per split (written if missing)")
    ap.add_argument("--rows", default="radial," + ",".join(ROWS))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--config", default="small")
    ap.add_argument("--workdir", default="/tmp/rhocat-ablation")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ds = Dataset(args.dataset)
    snap = snapshot(ds, Path(args.snapshot))
    load = {split: [ds.load(i) for i in ids] for split, ids in snap.items()}
    data = load.get("train", []) + load.get("val", [])
    test = [s for split, ss in load.items() if split.startswith("test") for s in ss]
    out_path = Path(args.output)
    report = json.loads(out_path.read_text()) if out_path.is_file() else {"rows": {}}
    report.update(
        snapshot=str(args.snapshot),
        counts={k: len(v) for k, v in snap.items()},
        steps=args.steps,
        config=args.config,
    )
    for name in args.rows.split(","):
        if name in report["rows"]:
            continue
        base, _, budget = name.partition("@")  # "features@3000": that row at 3000 steps
        steps = int(budget) if budget else args.steps
        t0 = time.perf_counter()
        if name == "radial":
            model = train_model(data, "radial", args.config, progress=False).model
            train_s, seeds = time.perf_counter() - t0, []
        else:
            features, k, shrink = ROWS[base]
            members, train_s = [], 0.0
            for seed in range(k):
                m, dt = _member(data, features, seed, steps, workdir, args.config)
                members.append(m)
                train_s += dt
            seeds = list(range(k))
            model = members[0]
            if k > 1:
                model = EnsembleModel.from_members(members, shrink_c=0.0)
                if shrink:
                    c, _ = calibrate_shrinkage(model, load.get("val", []))
                    model.config["shrink_c"] = c
                save_checkpoint(workdir / f"{base}-{steps}.pt", checkpoint_dict(model))
        member_test = []
        if name != "radial" and len(seeds) > 1:  # each member alone, on the same test set
            member_test = [summarize(evaluate_rows(m, test)) for m in members]
        val_rows = evaluate_rows(model, load.get("val", []))
        test_rows = evaluate_rows(model, test)
        report["rows"][name] = {
            "seeds": seeds,
            "steps": steps if name != "radial" else None,
            "shrink_c": getattr(model, "config", {}).get("shrink_c"),
            "train_s": train_s,
            "val": summarize(val_rows) if val_rows else {},
            "test": summarize(test_rows),
            "test_by_split": {
                sp: summarize([r for r in test_rows if r["split"] == sp])
                for sp in sorted({r["split"] for r in test_rows})
            },
            "members_alone_test": member_test,
            "per_structure": test_rows,
        }
        out_path.write_text(json.dumps(report, indent=1))
        row = report["rows"][name]
        print(name, json.dumps({"val": row["val"], "test": row["test"]}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
