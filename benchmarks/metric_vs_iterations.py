"""Does a density metric tell which of two models needs fewer SCF iterations on a cell?

Reads a ``compare_val_scf.py`` output (two models' warm-start iterations per cell, repeats
averaged) and, per cell and model, the share of Δρ the model's prediction captures in
several norms: the Hartree norm (weight 1/G², rhocat's ``captured_pct``), the same as
decades of error reduction (:func:`hartree_decades`), the plain L2 norm (the real-space
error, Parseval), and L2 below and above |G| = ``--g-split`` bohr⁻¹ (G = 0 left out
everywhere). Then, over the cells, the Spearman rank correlation between
the per-cell difference of each share (B − A) and the difference of iterations (B − A):
a metric that predicts the SCF correlates negatively. Writes JSON.

    python benchmarks/metric_vs_iterations.py \
        --model shipped=src/rhocat/pretrained/default.pt \
        --model iodides=benchmarks/checkpoints/iodides-8000.pt \
        [--comparison benchmarks/results_val_scf_repeats.json] \
        [-o benchmarks/results_metric_vs_iterations.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def captured_shares(delta_true, delta_pred, g_cart, g_split: float) -> dict[str, float]:
    """Share (%) of Δρ(G) captured by a prediction, 100·(1 − Σw|e|²/Σw|Δρ|²), with
    e = Δρ − Δρ_pred (both e/bohr³ on the same G list, |G| in bohr⁻¹), G = 0 left out:
    ``hartree`` (w = 1/G²), ``l2`` (w = 1), ``l2_low`` / ``l2_high`` (w = 1 on |G| below /
    at or above ``g_split``)."""
    g2 = np.sum(np.asarray(g_cart, dtype=float) ** 2, axis=1)
    keep = g2 > 1e-12
    g2 = g2[keep]
    true = np.abs(np.asarray(delta_true)[keep]) ** 2
    err = np.abs(np.asarray(delta_true)[keep] - np.asarray(delta_pred)[keep]) ** 2
    low = np.sqrt(g2) < g_split

    def share(w: np.ndarray) -> float:
        return float(100.0 * (1.0 - np.sum(w * err) / np.sum(w * true)))

    hartree = share(1.0 / g2)
    return {
        "hartree": hartree,
        "hartree_decades": hartree_decades(hartree),
        "l2": share(np.ones_like(g2)),
        "l2_low": share(low.astype(float)),
        "l2_high": share((~low).astype(float)),
    }


def hartree_decades(captured_pct: float, floor: float = 1e-12) -> float:
    """Decades by which a start lowers the Hartree error below the ACS's,
    −log10(E_H(Δρ − Δρ_pred) / E_H(Δρ)) = −log10(1 − captured/100): 0 for the ACS, 1 at 90%
    captured, 2 at 99%, negative for a start worse than the ACS; the error ratio is floored at
    ``floor`` (an exact prediction gives 12).

    Not a share, but the figure a linearly converging SCF counts in: if each iteration
    shrinks the density error by a factor q, a start whose Hartree error (quadratic in the
    density error) is 10^−d of the ACS's saves about d·ln 10 / (2 ln(1/q)) iterations, so a
    point of capture is worth ten times more at 99% than at 90%."""
    return float(-np.log10(max(1.0 - captured_pct / 100.0, floor)))


def rank_correlations(cells: dict, a: str, b: str) -> dict:
    """Spearman ρ (and p) between per-cell share differences (b − a) and iteration
    differences (b − a); ``cells[id] = {"iterations": {model: n}, "shares": {model: {...}}}``."""
    from scipy.stats import spearmanr

    ids = sorted(cells)
    d_it = [cells[i]["iterations"][b] - cells[i]["iterations"][a] for i in ids]
    out = {}
    for key in cells[ids[0]]["shares"][a]:
        d_share = [cells[i]["shares"][b][key] - cells[i]["shares"][a][key] for i in ids]
        res = spearmanr(d_share, d_it)
        out[key] = {"spearman": float(res.statistic), "p": float(res.pvalue), "n": len(ids)}
    return out


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", action="append", required=True, help="NAME=CHECKPOINT (two)")
    ap.add_argument("--comparison", default=str(HERE / "results_val_scf_repeats.json"))
    ap.add_argument("--data", default=str(HERE / "dataset" / "dataset"))
    ap.add_argument("--g-split", type=float, default=2.0, help="bohr⁻¹")
    ap.add_argument("-o", "--output", default=str(HERE / "results_metric_vs_iterations.json"))
    args = ap.parse_args(argv)
    paths = dict(spec.split("=", 1) for spec in args.model)
    comparison = json.loads(Path(args.comparison).read_text())["models"]
    if len(paths) != 2 or not set(paths) <= set(comparison):
        ap.error(f"give two --model NAME=PATH, NAME among {sorted(comparison)}")
    a, b = list(paths)
    ds = Dataset(args.data)
    samples = {cid: ds.load(cid) for cid in comparison[a]["cells"]}
    cells = {
        cid: {
            "iterations": {
                n: comparison[n]["cells"][cid][comparison[n]["threshold"]] for n in (a, b)
            },  # fmt: skip
            "shares": {},
        }
        for cid in samples
    }
    for name in (a, b):
        model = load_model(paths[name])  # an ensemble: .predict gives Δρ(G) with its shrink
        for cid, s in samples.items():
            pred = model.predict(s.numbers, s.positions_bohr, s.cell_bohr, s.g_cart)
            cells[cid]["shares"][name] = captured_shares(
                s.delta_rho_g, pred.delta_rho_g, s.g_cart, args.g_split
            )
    out = {
        "comparison": args.comparison,
        "models": paths,
        "g_split_per_bohr": args.g_split,
        "correlation": rank_correlations(cells, a, b),
        "mean_shares": {
            n: {
                k: float(np.mean([c["shares"][n][k] for c in cells.values()]))
                for k in cells[next(iter(cells))]["shares"][n]
            }  # fmt: skip
            for n in (a, b)
        },
        "cells": cells,
    }
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(json.dumps({"correlation": out["correlation"], "mean_shares": out["mean_shares"]},
                     indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
