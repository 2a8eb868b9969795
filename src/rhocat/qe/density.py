"""pw.x's ``charge-density.dat``: read, write, and move between G space and a grid.

The file (QE >= 6.4 built without HDF5) is Fortran *unformatted sequential*
with 4-byte little-endian record markers; its records are

1. int32 x 3: ``gamma_only`` (0/1), ``ngm_g`` (number of G vectors), ``nspin``
2. float64 x 9: reciprocal vectors b1, b2, b3 in 1/bohr (pw.x writes
   ``bg * tpiba``, i.e. 2π is included)
3. int32 x 3·ngm_g: Miller indices (h, k, l) of each G vector
4. complex128 x ngm_g, one record per spin component: ρ(G) in e/bohr³
   (nspin = 2: total, then magnetization up − down; nspin = 4: total, m_x, m_y, m_z)

pw.x reads the density back *by position* (QE's ``read_rhog`` skips the Miller
record), so a file written for pw.x must list the G vectors in pw.x's own
order: see :func:`rhocat.qe.gvectors.miller_indices`.

Convention: ρ(r) = Σ_G ρ(G) exp(iG·r), so ρ(G=0)·Ω is the number of electrons
(Ω: cell volume in bohr³). With ``gamma_only`` the file holds only half of the
G vectors (the other half are the complex conjugates ρ(−G) = ρ(G)*).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rhocat.errors import DensityFileError
from rhocat.fileio import atomic_write_bytes
from rhocat.qe.fft import g_to_grid, grid_to_g

__all__ = [
    "ChargeDensity",
    "read_charge_density",
    "write_charge_density",
    "to_grid",
    "from_grid",
]

_I4 = np.dtype("<i4")
_F8 = np.dtype("<f8")
_C16 = np.dtype("<c16")


@dataclass
class ChargeDensity:
    """A charge density on a list of G vectors, as pw.x stores it.

    Attributes:
        miller: (ngm, 3) int, Miller indices of the G vectors (G = h b1 + k b2 + l b3).
        rho_g: (nspin, ngm) complex128 Fourier coefficients in e/bohr³;
            ρ(r) = Σ_G rho_g[G] exp(iG·r) and rho_g[0, G=0]·Ω = N_el.
            nspin = 2: [total, magnetization].
        b: (3, 3) reciprocal vectors b1, b2, b3 as rows, in 1/bohr (2π included),
            exactly as stored in the file.
        gamma_only: the list holds only half of the G vectors (Γ-point trick).
    """

    miller: np.ndarray
    rho_g: np.ndarray
    b: np.ndarray
    gamma_only: bool = False

    def __post_init__(self) -> None:
        self.miller = np.ascontiguousarray(self.miller, dtype=np.int32).reshape(-1, 3)
        rho = np.asarray(self.rho_g, dtype=np.complex128)
        if rho.ndim == 1:
            rho = rho[None, :]
        self.rho_g = np.ascontiguousarray(rho)
        self.b = np.ascontiguousarray(self.b, dtype=np.float64).reshape(3, 3)
        self.gamma_only = bool(self.gamma_only)
        if self.rho_g.shape[1] != self.miller.shape[0]:
            raise ValueError(
                f"rho_g has {self.rho_g.shape[1]} G vectors, miller has {self.miller.shape[0]}"
            )

    @property
    def nspin(self) -> int:
        """Number of spin components (1, 2 or 4)."""
        return int(self.rho_g.shape[0])

    @property
    def ngm(self) -> int:
        """Number of G vectors in the list."""
        return int(self.miller.shape[0])

    @property
    def volume_bohr3(self) -> float:
        """Cell volume Ω in bohr³, from the reciprocal vectors ((2π)³/|det b|)."""
        return float((2 * np.pi) ** 3 / abs(np.linalg.det(self.b)))

    @property
    def cell_bohr(self) -> np.ndarray:
        """(3, 3) direct lattice vectors as rows, in bohr (a_i·b_j = 2π δ_ij)."""
        return 2 * np.pi * np.linalg.inv(self.b).T

    def n_electrons(self) -> float:
        """ρ(G=0)·Ω of the first spin component (the number of electrons)."""
        zero = np.flatnonzero(~self.miller.any(axis=1))
        if zero.size == 0:
            return 0.0
        return float(self.rho_g[0, zero[0]].real * self.volume_bohr3)


def _fail(path: Path, why: str) -> DensityFileError:
    return DensityFileError(f"{path}: not a valid pw.x charge-density.dat ({why})")


def read_charge_density(path: str | Path) -> ChargeDensity:
    """Read a pw.x ``charge-density.dat`` (Fortran unformatted, QE >= 6.4).

    Args:
        path: the file, usually ``<outdir>/<prefix>.save/charge-density.dat``.

    Returns:
        :class:`ChargeDensity` (ρ(G) in e/bohr³, b in 1/bohr).

    Raises:
        DensityFileError: the file is missing, truncated, or not such a file.
    """
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise DensityFileError(f"cannot read density file {path}: {exc}") from exc
    records = []
    pos = 0
    while pos < len(buf):
        if pos + 4 > len(buf):
            raise _fail(path, "truncated record marker")
        (n,) = np.frombuffer(buf, _I4, 1, pos)
        if n < 0 or pos + 8 + n > len(buf):
            raise _fail(path, f"record {len(records) + 1} is truncated or corrupt")
        (n_end,) = np.frombuffer(buf, _I4, 1, pos + 4 + n)
        if n_end != n:
            raise _fail(path, f"record {len(records) + 1} has inconsistent markers")
        records.append((pos + 4, int(n)))
        pos += 8 + int(n)
        if len(records) == 1 and n != 12:
            raise _fail(path, f"first record has {n} bytes, expected 12")
    if len(records) < 4:
        raise _fail(path, f"{len(records)} records, expected at least 4")
    off, _ = records[0]
    gamma, ngm, nspin = (int(x) for x in np.frombuffer(buf, _I4, 3, off))
    if gamma not in (0, 1) or ngm <= 0 or nspin not in (1, 2, 4):
        raise _fail(path, f"header gamma_only={gamma}, ngm={ngm}, nspin={nspin}")
    expected = [12, 72, 12 * ngm] + [16 * ngm] * nspin
    sizes = [n for _, n in records]
    if sizes != expected:
        raise _fail(path, f"record sizes {sizes[:6]} do not match ngm={ngm}, nspin={nspin}")
    b = np.frombuffer(buf, _F8, 9, records[1][0]).reshape(3, 3).copy()
    miller = np.frombuffer(buf, _I4, 3 * ngm, records[2][0]).reshape(ngm, 3).copy()
    rho = np.empty((nspin, ngm), dtype=np.complex128)
    for s in range(nspin):
        rho[s] = np.frombuffer(buf, _C16, ngm, records[3 + s][0])
    return ChargeDensity(miller=miller, rho_g=rho, b=b, gamma_only=bool(gamma))


def _record(payload: bytes) -> bytes:
    marker = np.array([len(payload)], dtype=_I4).tobytes()
    return marker + payload + marker


def density_bytes(density: ChargeDensity) -> bytes:
    """The exact bytes pw.x would write for ``density`` (see the module docstring)."""
    ngm = density.ngm
    if density.rho_g.ndim != 2 or density.rho_g.shape[1] != ngm:
        raise ValueError(f"rho_g has shape {density.rho_g.shape}, expected (nspin, {ngm})")
    header = np.array([int(density.gamma_only), ngm, density.nspin], dtype=_I4)
    parts = [
        _record(header.tobytes()),
        _record(density.b.astype(_F8).tobytes()),
        _record(density.miller.astype(_I4).tobytes()),
    ]
    parts += [_record(density.rho_g[s].astype(_C16).tobytes()) for s in range(density.nspin)]
    return b"".join(parts)


def write_charge_density(path: str | Path, density: ChargeDensity) -> None:
    """Write ``density`` as a pw.x ``charge-density.dat`` (atomically).

    The bytes are exactly those pw.x writes: reading a pw.x file and writing
    it back gives an identical file.
    """
    atomic_write_bytes(Path(path), density_bytes(density))


def to_grid(density: ChargeDensity, shape: tuple[int, int, int]) -> np.ndarray:
    """ρ(r) on a real-space grid, in e/bohr³.

    Args:
        density: the density in G space.
        shape: (n1, n2, n3); grid point [i, j, k] is r = i/n1·a1 + j/n2·a2 + k/n3·a3.
            Each n_i must be at least 2·max|m_i| + 1 (pw.x's own FFT grid always is).

    Returns:
        (nspin, n1, n2, n3) float64 array; mean(ρ)·Ω equals the number of electrons.
    """
    return g_to_grid(density.rho_g, density.miller, shape, half=density.gamma_only)


def from_grid(grid: np.ndarray, miller: np.ndarray) -> np.ndarray:
    """Fourier coefficients ρ(G) on the G list ``miller`` from a real-space grid.

    Args:
        grid: (nspin, n1, n2, n3) or (n1, n2, n3) density in e/bohr³ (layout of :func:`to_grid`).
        miller: (ngm, 3) Miller indices (for gamma_only lists, just the stored half).

    Returns:
        (nspin, ngm) complex128, e/bohr³ (the inverse of :func:`to_grid`).
    """
    grid = np.asarray(grid)
    return grid_to_g(grid[None] if grid.ndim == 3 else grid, miller)
