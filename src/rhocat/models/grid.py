"""Arrays on QE's G-vector list <-> real-space FFT grids (numpy only, no files).

Convention (QE's): ρ(r) = Σ_G ρ(G) e^{iG·r}. A G vector with Miller indices m sits at
grid index m mod n. A half list (gamma_only) is completed with ρ(−G) = ρ(G)*.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_GOOD = (2, 3, 5)


def is_half_list(miller: np.ndarray) -> bool:
    """True when the list lacks −G for some G (a gamma_only list)."""
    keys = {tuple(m) for m in np.asarray(miller).tolist()}
    return any((-a, -b, -c) not in keys for a, b, c in list(keys)[:2000])


def good_fft_size(n: int) -> int:
    """Smallest integer ≥ n whose prime factors are 2, 3, 5."""
    while True:
        m = n
        for p in _GOOD:
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def grid_for_miller(miller: np.ndarray) -> tuple[int, int, int]:
    """A real-space grid that holds every listed G without aliasing."""
    mx = np.abs(np.asarray(miller)).max(axis=0)
    return tuple(good_fft_size(2 * int(m) + 1) for m in mx)  # type: ignore[return-value]


def g_to_grid(values: np.ndarray, miller: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Real-space values (shape ``shape``, same units as ``values``) of a G-space list."""
    from rhocat.qe.fft import g_to_grid as _g_to_grid

    return _g_to_grid(values, miller, shape, half=is_half_list(miller))


def grid_to_g(grid: np.ndarray, miller: np.ndarray) -> np.ndarray:
    """(ngm,) complex Fourier coefficients ρ(G) = (1/N) Σ_r ρ(r) e^{−iG·r} of a real grid."""
    from rhocat.qe.fft import grid_to_g as _grid_to_g

    return _grid_to_g(grid, miller)


def grid_points_bohr(cell_bohr: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """(n1·n2·n3, 3) Cartesian positions (bohr) of the grid points, C order."""
    axes = [np.arange(n) / n for n in shape]
    frac = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    return frac @ np.asarray(cell_bohr)
