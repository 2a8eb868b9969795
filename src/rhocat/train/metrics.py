"""Losses and metrics of a predicted Δρ.

Units: densities e/bohr³, G in 1/bohr, energies Ry. The Hartree energy of a density
error δρ is E_H = 4πΩ Σ_{G≠0} |δρ(G)|²/G² (Ry), what pw.x prints as "estimated scf
accuracy" for the difference of input and output densities.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rhocat.models.grid import g_to_grid

G2_MIN = 1e-16


def hartree_energy_ry(delta_g: np.ndarray, g_cart: np.ndarray, volume_bohr3: float) -> float:
    """E_H of a density error on a (full) G list, Ry."""
    g2 = np.einsum("ij,ij->i", g_cart, g_cart)
    nz = g2 > G2_MIN
    return float(4.0 * math.pi * volume_bohr3 * np.sum(np.abs(delta_g[nz]) ** 2 / g2[nz]))


def loss_g(
    kind: str, pred: torch.Tensor, target: torch.Tensor, g_cart: torch.Tensor, volume, n_atoms: int
) -> torch.Tensor:
    """G-space loss: 'hartree' (E_H of the error, Ry/atom), 'hartree_rel' (E_H of the error
    over E_H of the target, dimensionless: 1 − captured/100, each structure weighted alike
    whatever the size of its Δρ) or 'l2_g' (∫|δρ|²/atom)."""
    err2 = (pred - target).abs() ** 2
    if kind in ("hartree", "hartree_rel"):
        g2 = (g_cart * g_cart).sum(-1)
        w = torch.where(g2 > G2_MIN, 4.0 * math.pi * volume / torch.clamp(g2, min=G2_MIN), 0.0)
        if kind == "hartree_rel":
            return (w * err2).sum() / torch.clamp((w * target.abs() ** 2).sum(), min=1e-30)
        return (w * err2).sum() / n_atoms
    if kind == "l2_g":
        return volume * err2.sum() / n_atoms
    raise ValueError(kind)


def g_to_grid_torch(values: torch.Tensor, miller: np.ndarray, shape) -> torch.Tensor:
    """Differentiable real-space grid (e/bohr³) of a G list (full list, or half with conjugates)."""
    from rhocat.models.grid import is_half_list

    full = torch.zeros(tuple(shape), dtype=torch.complex128, device=values.device)
    m = np.asarray(miller)
    sh = np.asarray(shape)
    if is_half_list(m):
        idx = torch.as_tensor((-m % sh).T, device=values.device)
        full = full.index_put(tuple(idx), values.conj())
    idx = torch.as_tensor((m % sh).T, device=values.device)
    full = full.index_put(tuple(idx), values)
    return torch.fft.ifftn(full).real * full.numel()


def density_metrics(sample, pred_delta_g: np.ndarray) -> dict[str, float]:
    """MAE/NMAE of ρ on the full real-space grid and Hartree energies, for one structure.

    Returns ``mae`` (e/bohr³), ``nmae_pct`` (Σ|ρ_pred − ρ|/Σ|ρ|, %), ``nmae_acs_pct`` (the same
    for the ACS), ``hartree_ry`` and ``hartree_acs_ry`` (E_H of the error), and
    ``captured_pct`` = 100 (1 − E_H(error)/E_H(Δρ)), the Hartree share of Δρ captured.
    """
    miller = np.asarray(sample.miller)
    shape = tuple(sample.fft_grid)
    target = np.asarray(sample.delta_rho_g)
    rho = g_to_grid(np.asarray(sample.rho_g)[0], miller, shape)
    err = g_to_grid(pred_delta_g - target, miller, shape)
    acs_err = g_to_grid(-target, miller, shape)
    norm = np.abs(rho).sum()
    g = np.asarray(sample.g_cart)
    vol = sample.volume_bohr3
    eh = hartree_energy_ry(pred_delta_g - target, g, vol)
    eh0 = hartree_energy_ry(target, g, vol)
    return {
        "mae": float(np.abs(err).mean()),
        "nmae_pct": float(100.0 * np.abs(err).sum() / norm),
        "nmae_acs_pct": float(100.0 * np.abs(acs_err).sum() / norm),
        "hartree_ry": eh,
        "hartree_acs_ry": eh0,
        "captured_pct": float(100.0 * (1.0 - eh / eh0)) if eh0 > 0 else float("nan"),
    }


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    """Averages over structures (empty dict for no rows)."""
    if not rows:
        return {}
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
