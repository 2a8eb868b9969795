"""G space <-> real-space grid: the one FFT of rhocat (numpy's, pw.x's conventions).

A function on the crystal is ``f(r) = Σ_G f(G) e^{iG·r}``; grid point
``[i, j, k]`` is ``r = i/n1·a1 + j/n2·a2 + k/n3·a3`` and G of Miller indices
``m`` sits at index ``m mod n`` (pw.x's layout). Units are the caller's: ρ(G) in
e/bohr³ gives ρ(r) in e/bohr³. A grid must hold every listed G without
aliasing (``n_i >= 2·max|m_i| + 1``, which pw.x's FFT grids always satisfy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def grid_index(miller: np.ndarray, shape: Sequence[int]) -> tuple[np.ndarray, ...]:
    """Grid indices of Miller indices ``miller`` (ngm, 3); ValueError if the grid aliases."""
    miller = np.asarray(miller)
    shape = tuple(int(n) for n in shape)
    limit = (np.asarray(shape) - 1) // 2
    if np.any(np.abs(miller) > limit):
        over = np.abs(miller).max(axis=0)
        raise ValueError(
            f"grid {shape} is too small for Miller indices up to {tuple(int(x) for x in over)} "
            "(need n_i >= 2·max|m_i| + 1)"
        )
    return tuple(np.mod(miller[:, i], shape[i]) for i in range(3))


def g_to_grid(
    values: np.ndarray, miller: np.ndarray, shape: Sequence[int], *, half: bool = False
) -> np.ndarray:
    """Real-space values of G-space coefficients on the grid ``shape``.

    Args:
        values: (ngm,) or (nspin, ngm) complex coefficients f(G).
        miller: (ngm, 3) Miller indices.
        shape: (n1, n2, n3).
        half: the list holds one G of each ±G pair (pw.x's gamma tricks): the other
            is f(−G) = conj(f(G)); G = 0 keeps its stored value.

    Returns:
        (n1, n2, n3) or (nspin, n1, n2, n3) float64: the real part of f(r).
    """
    values = np.asarray(values)
    squeeze = values.ndim == 1
    values = np.atleast_2d(values)
    shape = tuple(int(n) for n in shape)
    idx = grid_index(miller, shape)
    neg = grid_index(-np.asarray(miller), shape) if half else None
    n_points = shape[0] * shape[1] * shape[2]
    out = np.empty((values.shape[0], *shape), dtype=np.float64)
    for s in range(values.shape[0]):
        g = np.zeros(shape, dtype=np.complex128)
        if neg is not None:
            g[neg] = np.conj(values[s])
        g[idx] = values[s]
        out[s] = np.fft.ifftn(g).real * n_points
    return out[0] if squeeze else out


def grid_to_g(grid: np.ndarray, miller: np.ndarray) -> np.ndarray:
    """Coefficients f(G) = (1/N) Σ_r f(r) e^{−iG·r} on the G list ``miller``.

    Args:
        grid: (n1, n2, n3) or (nspin, n1, n2, n3) real-space values.
        miller: (ngm, 3) Miller indices.

    Returns:
        (ngm,) or (nspin, ngm) complex128 (the inverse of :func:`g_to_grid`).
    """
    grid = np.asarray(grid)
    squeeze = grid.ndim == 3
    if squeeze:
        grid = grid[None]
    shape = grid.shape[1:]
    idx = grid_index(miller, shape)
    n_points = shape[0] * shape[1] * shape[2]
    out = np.empty((grid.shape[0], len(miller)), dtype=np.complex128)
    for s in range(grid.shape[0]):
        out[s] = np.fft.fftn(grid[s])[idx] / n_points
    return out[0] if squeeze else out
