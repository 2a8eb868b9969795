"""Ablation of the density model on a fixed snapshot of the benchmark dataset (docs/ablation.md).

One row per change, each trained on the snapshot's train split, chosen on its val split,
and reported on its unseen-combination test structures: Hartree share of Δρ captured
(mean, median, worst), NMAE, validation capture, training and inference time.

    python benchmarks/ablation.py benchmarks/dataset/dataset \
        --snapshot benchmarks/ablation_snapshot.json --steps 600 \
        --rows radial,basis,features,ensemble,features-ensemble \
        -o benchmarks/results_ablation.json

A row name ``ROW@N`` trains that row's members for N steps instead of ``--steps``
(e.g. ``features@3000``: the training-budget ablation). ``--checkpoint NAME=PATH`` adds a
row NAME for a model trained before (e.g. the shipped one on a newer snapshot).

The snapshot (ids per split) is written on the first run from the entries present then,
and reused afterwards, so that every row sees the same structures while the dataset grows.
Rows already in the output file are kept (resumable); member checkpoints are cached in
``--workdir`` and shared between rows (the ensembles reuse the single models' seeds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rhocat.data.snapshot import split_snapshot
from rhocat.evaluate.density import density_rows, summarize_density_rows
from rhocat.train.ensemble import train_member

#: name -> (element_features, members, shrink)
ROWS = {
    "basis": (False, 1, False),
    "features": (True, 1, False),
    "ensemble": (False, 5, False),
    "features-ensemble": (True, 5, False),
    "features-ensemble-shrink": (True, 5, True),
}


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.models.ensemble import EnsembleModel, calibrate_shrinkage
    from rhocat.train import load_model, train_model
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
    ap.add_argument(
        "--first-seed", type=int, default=0, help="members use seeds FIRST .. FIRST+K-1"
    )
    ap.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        help="NAME=PATH: a trained model evaluated as row NAME (name it in --rows), as it is",
    )
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    given = dict(c.split("=", 1) for c in args.checkpoint)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ds = Dataset(args.dataset)
    snap = split_snapshot(ds, args.snapshot)
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
        if name in given:  # a model trained elsewhere (e.g. the shipped one), not retrained
            model = load_model(given[name])
            train_s, seeds = 0.0, []
        elif name == "radial":
            model = train_model(data, "radial", args.config, progress=False).model
            train_s, seeds = time.perf_counter() - t0, []
        else:
            features, k, shrink = ROWS[base]
            members, train_s = [], 0.0
            for seed in range(args.first_seed, args.first_seed + k):
                path = workdir / f"{'features' if features else 'embed'}-s{seed}-{steps}.pt"
                m, dt = train_member(
                    data,
                    path,
                    seed=seed,
                    element_features=features,
                    steps=steps,
                    config=args.config,
                )
                members.append(m)
                train_s += dt
            seeds = list(range(args.first_seed, args.first_seed + k))
            model = members[0]
            if k > 1:
                model = EnsembleModel.from_members(members, shrink_c=0.0)
                if shrink:
                    c, _ = calibrate_shrinkage(model, load.get("val", []))
                    model.config["shrink_c"] = c
                save_checkpoint(workdir / f"{base}-{steps}.pt", checkpoint_dict(model))
        member_test = []
        if name != "radial" and len(seeds) > 1:  # each member alone, on the same test set
            member_test = [summarize_density_rows(density_rows(m, test)) for m in members]
        val_rows = density_rows(model, load.get("val", []))
        test_rows = density_rows(model, test)
        report["rows"][name] = {
            "seeds": seeds,
            "steps": steps if name != "radial" else None,
            "shrink_c": getattr(model, "config", {}).get("shrink_c"),
            "train_s": train_s,
            "val": summarize_density_rows(val_rows) if val_rows else {},
            "test": summarize_density_rows(test_rows),
            "test_by_split": {
                sp: summarize_density_rows([r for r in test_rows if r["split"] == sp])
                for sp in sorted({r["split"] for r in test_rows})
            },
            "members_alone_test": member_test,
            "per_structure": test_rows,
            "val_per_structure": val_rows,
        }
        out_path.write_text(json.dumps(report, indent=1))
        row = report["rows"][name]
        print(name, json.dumps({"val": row["val"], "test": row["test"]}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
