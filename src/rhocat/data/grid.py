"""Real-space values of a stored density: full FFT grids and random grid points.

Pure array code (no files): ρ(r) = Σ_G ρ(G) exp(i G·r) evaluated on the
n1×n2×n3 grid of fractional points (j1/n1, j2/n2, j3/n3) by one inverse FFT.
Densities are e/bohr³, positions bohr.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def expand_gamma(miller: np.ndarray, rho_g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complete a gamma-only half sphere of G vectors with ρ(−G) = ρ(G)*.

    ``rho_g`` has the G vectors on its last axis. G = 0 is not duplicated.
    """
    miller = np.asarray(miller)
    nonzero = np.any(miller != 0, axis=1)
    miller_full = np.concatenate([miller, -miller[nonzero]], axis=0)
    rho_full = np.concatenate([rho_g, np.conj(rho_g[..., nonzero])], axis=-1)
    return miller_full, rho_full


def to_real_grid(miller: np.ndarray, rho_g: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """ρ(r) on the FFT grid ``shape`` from coefficients on a full G list.

    Args:
        miller: (ngm, 3) Miller indices.
        rho_g: (ngm,) or (nspin, ngm) complex coefficients.
        shape: (n1, n2, n3).

    Returns:
        (n1, n2, n3) or (nspin, n1, n2, n3) float64 real-space values.
    """
    from rhocat.qe.fft import g_to_grid

    return g_to_grid(rho_g, miller, shape)


def grid_positions(
    cell_bohr: np.ndarray, shape: Sequence[int], flat_index: np.ndarray
) -> np.ndarray:
    """Cartesian positions (bohr) of grid points given by C-order flat indices."""
    j = np.stack(np.unravel_index(np.asarray(flat_index), tuple(shape)), axis=-1)
    frac = j / np.asarray(shape, dtype=np.float64)
    return frac @ np.asarray(cell_bohr)


def sample_grid_points(
    sample,
    n_points: int,
    rng: np.random.Generator,
    *,
    replace: bool = False,
) -> dict[str, np.ndarray]:
    """Random grid points of one :class:`~rhocat.data.sample.DensitySample`.

    Returns a dict of arrays: ``positions_bohr`` (n, 3), ``rho`` (n,) converged
    total density, ``rho_acs`` (n,) ACS density, ``delta`` (n,) = rho − rho_acs
    (all e/bohr³), ``index`` (n,) flat grid indices. ``n_points`` larger than
    the grid is clipped unless ``replace``.
    """
    shape = tuple(int(n) for n in sample.fft_grid)
    total = int(np.prod(shape))
    n = int(n_points) if replace else min(int(n_points), total)
    index = rng.choice(total, size=n, replace=replace)
    rho = to_real_grid(sample.miller, sample.rho_g[0], shape).reshape(-1)[index]
    acs = to_real_grid(sample.miller, sample.rho_acs_g, shape).reshape(-1)[index]
    return {
        "positions_bohr": grid_positions(sample.cell_bohr, shape, index),
        "rho": rho,
        "rho_acs": acs,
        "delta": rho - acs,
        "index": index,
    }
