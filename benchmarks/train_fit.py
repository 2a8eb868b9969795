"""How well a model fits its own training structures, beside validation: underfit or gap?

If a model captures as little of Δρ on the structures it was trained on as on unseen ones,
more data of the same kind will not lower its error; a different model, loss or optimiser
must. Per split of a snapshot (default: train and val) and per checkpoint (an ensemble as
shipped, with its shrinkage, or member K alone with ``--member K``), this reports the
Hartree share of Δρ captured (mean, median, worst), the pooled share 1 − ΣE_H(err)/ΣE_H(Δρ)
(each structure weighted by its Δρ, as the absolute Hartree loss weighs it), the mean per
element (and the share of the error its structures hold), per number of elements of the
structure (pooled too: binaries against ternaries), and the same split by the size of
Δρ: the quarter of structures with the smallest E_H(Δρ) per atom (Ry) against the rest,
with their share of the total error.

    python benchmarks/train_fit.py src/rhocat/pretrained/default.pt \\
        --dataset benchmarks/dataset/dataset --snapshot benchmarks/full_snapshot.json \\
        --member 0 -o benchmarks/results_train_fit.json

Density only (no pw.x): one to two minutes per checkpoint for the 624 + 206 structures.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np


def fit_figures(rows: list[dict], n_atoms: list[int], symbols: list[set[str]]) -> dict:
    """Summary of :func:`rhocat.evaluate.density.density_rows` rows of one split: captured
    share (%) mean/median/worst, pooled, per element (with the share of the split's summed
    Hartree error held by structures containing it), and by the size of Δρ per atom."""
    from rhocat.evaluate.density import capture_summary

    cap = np.array([r["captured_pct"] for r in rows])
    err = np.array([r["hartree_ry"] for r in rows])
    size = np.array([r["hartree_acs_ry"] for r in rows])
    per_atom = size / np.asarray(n_atoms, dtype=float)
    small = per_atom <= np.quantile(per_atom, 0.25)
    n_el = np.array([len(syms) for syms in symbols])
    by_element: dict[str, list[int]] = defaultdict(list)
    for i, syms in enumerate(symbols):
        for e in syms:
            by_element[e].append(i)
    return {
        **capture_summary(cap, [r["id"] for r in rows]),
        "captured_pooled_pct": _pooled(err, size),
        "elements": {
            e: {
                "n": len(i),
                "captured_mean_pct": float(cap[i].mean()),
                "error_share": float(err[i].sum() / err.sum()),
            }
            for e, i in sorted(by_element.items())
        },
        "by_n_elements": {
            str(k): _part(cap, err, size, n_el == k, per_atom) for k in sorted(set(n_el.tolist()))
        },
        "small_delta_rho": _part(cap, err, size, small, per_atom),
        "rest": _part(cap, err, size, ~small, per_atom),
        "cells": {r["id"]: float(c) for r, c in zip(rows, cap, strict=True)},
    }


def _pooled(err: np.ndarray, size: np.ndarray) -> float:
    """Pooled captured share (%): 1 − ΣE_H(err)/ΣE_H(Δρ) over the structures given."""
    return float(100.0 * (1.0 - err.sum() / size.sum()))


def _part(
    cap: np.ndarray, err: np.ndarray, size: np.ndarray, mask: np.ndarray, per_atom: np.ndarray
) -> dict:
    """Figures of the structures in ``mask``: count, mean and pooled captured share (%), their
    share of the split's summed Hartree error and their largest E_H(Δρ) per atom (Ry)."""
    return {
        "n": int(mask.sum()),
        "captured_mean_pct": float(cap[mask].mean()),
        "captured_pooled_pct": _pooled(err[mask], size[mask]),
        "error_share": float(err[mask].sum() / err.sum()),
        "max_delta_rho_hartree_per_atom_ry": float(per_atom[mask].max()),
    }


def evaluate(model, samples_by_split: dict[str, list]) -> dict:
    """:func:`fit_figures` per split for one model."""
    from rhocat.evaluate.density import density_rows

    out = {}
    for split, samples in samples_by_split.items():
        rows = density_rows(model, samples)
        n_atoms = [len(s.numbers) for s in samples]
        symbols = [set(s.elements) for s in samples]
        out[split] = fit_figures(rows, n_atoms, symbols)
    return out


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.snapshot import split_snapshot
    from rhocat.data.store import Dataset
    from rhocat.models.ensemble import EnsembleModel
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--snapshot", required=True, help="ids per split")
    ap.add_argument("--splits", default="train,val")
    ap.add_argument("--member", type=int, default=None, help="evaluate member K of ensembles")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    ds = Dataset(args.dataset)
    snap = split_snapshot(ds, args.snapshot)
    splits = [s for s in args.splits.split(",") if s]
    missing = [s for s in splits if s not in snap]
    if missing:
        ap.error(f"the snapshot has no split {', '.join(missing)}")
    samples = {s: [ds.load(i) for i in snap[s]] for s in splits}
    report = {"snapshot": args.snapshot, "member": args.member, "models": {}}
    for path in args.checkpoints:
        model = load_model(path)
        if args.member is not None and isinstance(model, EnsembleModel):
            model = model.member(args.member)
        report["models"][path] = figures = evaluate(model, samples)
        print(path, {s: _short(f) for s, f in figures.items()}, flush=True)
    Path(args.output).write_text(json.dumps(report, indent=1))
    return 0


def _short(fig: dict) -> dict:
    keep = ("captured_mean_pct", "captured_median_pct", "captured_pooled_pct",
            "captured_worst_pct", "worst_id")  # fmt: skip
    out = {k: round(fig[k], 2) if isinstance(fig[k], float) else fig[k] for k in keep}
    out["small_delta_rho"] = round(fig["small_delta_rho"]["captured_mean_pct"], 2)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
