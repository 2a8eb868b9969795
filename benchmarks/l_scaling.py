"""Does the ensemble over- or under-shoot by angular momentum? A per-l scale on validation.

The shipped prediction is s·Δρ̄ with s = 1 / (1 + c u²). Split the members' mean by the
angular momentum of its basis columns, Δρ̄ = Σ_l Δρ̄_l (l = 0: spherical changes around
each atom, charge moved between atoms among them), and scale each part:
s·Σ_l a_l Δρ̄_l. With the Hartree inner product ⟨x, y⟩ = Re Σ_{G≠0} x*_G y_G / |G|², per
structure M_lm = ⟨Δρ̄_l, Δρ̄_m⟩, b_l = ⟨Δρ̄_l, Δρ⟩ and C = ⟨Δρ, Δρ⟩, the captured share is
1 − (s² aᵀMa − 2s aᵀb + C)/C in closed form, so the a_l are fitted (scipy, from a = 1)
for every c of the shrinkage grid, maximizing the mean captured share of the fitting cells.

Variants: ``shipped`` (every a_l = 1, only c fitted), ``l0`` (a_0 free, the others 1: a
charge-transfer and radial-shape scale) and ``per_l`` (every a_l free). Judged by
leave-one-system-out cross-validation on ``val`` (a system: a cell's set of elements; its
cells scored with the a and c fitted on the other systems), then fitted on all of ``val``
with validation and test figures (test reported, never used to choose). Density only.
Writes JSON.

    python benchmarks/l_scaling.py src/rhocat/pretrained/default.pt \\
        benchmarks/dataset/dataset --snapshot benchmarks/full_snapshot_val206.json \\
        -o benchmarks/results_l_scaling_val206.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from element_shrinkage import GRID, summary  # noqa: E402
from shrink_curve import density_parser, load_ensemble, mean_coefficients, val_and_test  # noqa: E402

VARIANTS = ("shipped", "l0", "per_l")


def l_parts(model, sample) -> tuple[np.ndarray, float]:
    """(L, ngm) complex: the members' unshrunk mean Δρ̄(G) (e/bohr³, G = 0 set to 0) split
    by the l of its basis columns (rows l = 0 … l_max; they sum to Δρ̄), and u."""
    import torch

    from rhocat.models.basis import evaluate_g, l_of_column
    from rhocat.models.ensemble import unshrunk_mean

    pos = np.asarray(sample.positions_bohr, dtype=np.float64)
    cell = np.asarray(sample.cell_bohr, dtype=np.float64)
    g = np.asarray(sample.g_cart, dtype=np.float64)
    volume = abs(float(np.linalg.det(cell)))
    l_col = l_of_column(model.spec)
    pos_t, g_t = torch.as_tensor(pos), torch.as_tensor(g)
    _, u = unshrunk_mean(model, sample)
    mean = mean_coefficients(model, sample)
    with torch.inference_mode():
        parts = []
        for ell in range(int(l_col.max()) + 1):
            keep = torch.as_tensor(l_col == ell)
            part = evaluate_g(model.spec, mean * keep, pos_t, g_t, volume)
            parts.append(part.cpu().numpy().astype(np.complex128))
    out = np.stack(parts)
    out[:, np.all(np.asarray(sample.miller) == 0, axis=1)] = 0.0
    return out, u


def cell_stats(parts: np.ndarray, target: np.ndarray, g_cart: np.ndarray) -> dict:
    """``M`` (L, L), ``b`` (L,) and ``C`` of the module docstring (bohr² e²/bohr⁶, one
    common arbitrary scale: only ratios are used), G = 0 left out."""
    g2 = np.einsum("ij,ij->i", g_cart, g_cart)
    nz = g2 > 1e-12
    w = 1.0 / g2[nz]
    p, t = parts[:, nz], np.asarray(target)[nz]
    m = np.real((p.conj() * w) @ p.T)
    b = np.real((p.conj() * w) @ t)
    c = float(np.real(np.sum(w * np.abs(t) ** 2)))
    return {"M": m, "b": b, "C": c}


def captured(stats: list[dict], u: np.ndarray, a: np.ndarray, c_shrink: float) -> np.ndarray:
    """Captured share (%) of each cell by s·Σ_l a_l Δρ̄_l, s = 1/(1 + c u²)."""
    s = 1.0 / (1.0 + c_shrink * u * u)
    out = np.empty(len(stats))
    for i, (st, si) in enumerate(zip(stats, s, strict=True)):
        err = si * si * a @ st["M"] @ a - 2.0 * si * a @ st["b"] + st["C"]
        out[i] = 100.0 * (1.0 - err / st["C"]) if st["C"] > 0 else 0.0
    return out


def free_mask(variant: str, n_l: int) -> np.ndarray:
    """Which a_l a variant fits (bool, (n_l,))."""
    mask = np.zeros(n_l, dtype=bool)
    if variant == "l0":
        mask[0] = True
    elif variant == "per_l":
        mask[:] = True
    elif variant != "shipped":
        raise ValueError(f"unknown variant {variant!r}")
    return mask


def fit(stats: list[dict], u: np.ndarray, variant: str) -> tuple[np.ndarray, float]:
    """The a (L,) and c of ``GRID`` that maximize the mean captured share of the cells
    (ties in c: the smaller); a_l fixed at 1 where the variant leaves them."""
    from scipy.optimize import minimize

    n_l = len(stats[0]["b"])
    mask = free_mask(variant, n_l)
    best: tuple[float, np.ndarray, float] | None = None
    for c in GRID:

        def loss(x, c=c):
            a = np.ones(n_l)
            a[mask] = x
            return -float(np.mean(captured(stats, u, a, c)))

        a = np.ones(n_l)
        if mask.any():
            res = minimize(loss, np.ones(int(mask.sum())), method="L-BFGS-B",
                           bounds=[(0.0, 2.0)] * int(mask.sum()))  # fmt: skip
            a[mask] = res.x
        score = -loss(a[mask])
        if best is None or score > best[0] + 1e-12:
            best = (score, a, float(c))
    assert best is not None
    return best[1], best[2]


def leave_one_system_out(stats: list[dict], u: np.ndarray, systems: list, variant: str):
    """Each cell's captured share (%) with a and c fitted on the other systems' cells."""
    keys = np.asarray([",".join(sorted(s)) for s in systems])
    out = np.empty(len(stats))
    for key in sorted(set(keys)):
        held = np.flatnonzero(keys == key)
        rest = np.flatnonzero(keys != key)
        a, c = fit([stats[i] for i in rest], u[rest], variant)
        out[held] = captured([stats[i] for i in held], u[held], a, c)
    return out


def collect(model, samples) -> tuple[list[dict], np.ndarray]:
    """Per sample, :func:`cell_stats` and u (with a progress bar)."""
    from tqdm import tqdm

    stats, us = [], []
    for smp in tqdm(samples, desc="per-l parts", unit="cell"):
        parts, u = l_parts(model, smp)
        stats.append(cell_stats(parts, smp.delta_rho_g, np.asarray(smp.g_cart)))
        us.append(u)
    return stats, np.asarray(us)


def main(argv: list[str] | None = None) -> int:
    ap = density_parser(__doc__)
    args = ap.parse_args(argv)
    model = load_ensemble(ap, args.model)
    val, test = val_and_test(args.dataset, args.snapshot)
    val_stats, u_val = collect(model, val)
    test_stats, u_test = collect(model, test)
    systems = [s.elements for s in val]
    out: dict = {"model": args.model, "snapshot": args.snapshot, "grid": list(GRID), "variants": {}}
    for variant in VARIANTS:
        cv = leave_one_system_out(val_stats, u_val, systems, variant)
        a, c = fit(val_stats, u_val, variant)
        val_cap = captured(val_stats, u_val, a, c)
        test_cap = captured(test_stats, u_test, a, c)
        iodide = np.asarray(["I" in s.elements for s in test])
        out["variants"][variant] = {
            "cross_validation": {"systems": len(set(map(frozenset, systems))), **summary(cv)},
            "fit_on_val": {"a_l": [float(x) for x in a], "c": c},
            "val": summary(val_cap),
            "val with RhI": summary(val_cap[np.asarray(["RhI" in s.id for s in val])]),
            "test": summary(test_cap),
            "test iodides": summary(test_cap[iodide]),
            "cells": {
                "val": {s.id: float(x) for s, x in zip(val, val_cap, strict=True)},
                "val_cv": {s.id: float(x) for s, x in zip(val, cv, strict=True)},
                "test": {s.id: float(x) for s, x in zip(test, test_cap, strict=True)},
            },
        }
        brief = {k: v for k, v in out["variants"][variant].items() if k != "cells"}
        print(variant, json.dumps(brief))
    Path(args.output).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
