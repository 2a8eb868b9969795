"""An ensemble's shrinkage c on validation subsets, and its figures at each chosen c.

For the ensemble checkpoint MODEL: the captured share on validation for every c of the
grid (all of ``val`` and ``val`` without ids containing ``--exclude``), and validation and
test figures at each c chosen so (with the excluded cells' own, and each cell's). Writes
JSON.

    python benchmarks/shrink_curve.py benchmarks/checkpoints/iodides-8000.pt \
        benchmarks/dataset/dataset --snapshot benchmarks/full_snapshot_iodides.json \
        --exclude RhI -o benchmarks/results_ablation_iodides_shrink.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def val_and_test(dataset: str, snapshot: str) -> tuple[list, list]:
    """The samples of the snapshot's ``val`` split and of all its ``test*`` splits, loaded
    from the dataset folder ``dataset``."""
    from rhocat.data.store import Dataset

    ds = Dataset(dataset)
    snap = json.loads(Path(snapshot).read_text())
    val = [ds.load(i) for i in snap["val"]]
    test = [ds.load(i) for k, ids in snap.items() if k.startswith("test") for i in ids]
    return val, test


def density_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments of a density-only benchmark of a checkpoint on a snapshot: ``model``,
    ``dataset``, ``--snapshot`` and ``-o``; add the benchmark's own after it."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model")
    ap.add_argument("dataset")
    ap.add_argument("--snapshot", required=True)
    ap.add_argument("-o", "--output", required=True)
    return ap


def load_ensemble(ap: argparse.ArgumentParser, path: str):
    """The ensemble checkpoint at ``path``; a usage error through ``ap`` for any other model."""
    from rhocat.models.ensemble import EnsembleModel
    from rhocat.train import load_model

    model = load_model(path)
    if not isinstance(model, EnsembleModel):
        ap.error(f"{path}: not an ensemble, so it has no uncertainty or shrinkage")
    return model


def mean_coefficients(model, sample):
    """(n_atoms, spec.size) the ensemble members' mean basis coefficients for ``sample``
    (no shrinkage, no gradients)."""
    import numpy as np
    import torch

    z = torch.as_tensor(np.asarray(sample.numbers), dtype=torch.long)
    pos, cell = np.asarray(sample.positions_bohr), np.asarray(sample.cell_bohr)
    with torch.inference_mode():
        return model.member_coefficients(z, pos, cell).mean(dim=0)


def write_report(args: argparse.Namespace, model, summary: dict, cells: dict) -> None:
    """Write a per-cell benchmark's JSON to ``args.output`` (the checkpoint, the snapshot,
    the ensemble's c, ``summary`` and ``cells``) and print ``summary``."""
    report = {
        "model": args.model,
        "snapshot": args.snapshot,
        "shrink_c": float(model.config["shrink_c"]),
        "summary": summary,
        "cells": cells,
    }
    Path(args.output).write_text(json.dumps(report, indent=1))
    print(json.dumps(summary, indent=1))


def at_c_figures(model, val: list, test: list, exclude: str) -> dict:
    """Figures of ``model`` at its configured c: summaries of ``val``, of the ``val`` ids
    containing ``exclude`` alone (``"val with <exclude>"``, when any) and of ``test``, and
    each structure's captured share (%) under ``cells`` (per split, a list of ``id`` and
    ``captured_pct``, as ``element_deficit.py`` reads)."""
    from rhocat.evaluate.density import density_rows, summarize_density_rows

    rows = {"val": density_rows(model, val), "test": density_rows(model, test)}
    out = {split: summarize_density_rows(r) for split, r in rows.items()}
    with_it = [r for r in rows["val"] if exclude in r["id"]]
    if with_it:
        out[f"val with {exclude}"] = summarize_density_rows(with_it)
    out["cells"] = {split: [{"id": r["id"], "captured_pct": r["captured_pct"]} for r in rs]
                    for split, rs in rows.items()}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    from rhocat.models.ensemble import calibrate_shrinkage

    ap = density_parser(__doc__)
    ap.add_argument("--exclude", required=True, help="val ids containing this are left out")
    args = ap.parse_args(argv)
    val, test = val_and_test(args.dataset, args.snapshot)
    model = load_ensemble(ap, args.model)
    subsets = {
        "val": val,
        f"val without {args.exclude}": [s for s in val if args.exclude not in s.id],
    }
    out: dict = {"model": args.model, "subsets": {}, "at_c": {}}
    for name, samples in subsets.items():
        c, curve = calibrate_shrinkage(model, samples)
        out["subsets"][name] = {"n": len(samples), "chosen_c": c, "captured_mean_pct": curve}
    for c in sorted({s["chosen_c"] for s in out["subsets"].values()}):
        model.config["shrink_c"] = c
        out["at_c"][str(c)] = at_c_figures(model, val, test, args.exclude)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(json.dumps(out["subsets"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
