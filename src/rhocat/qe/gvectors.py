"""pw.x's G-vector list and FFT grid, reproduced in Python.

pw.x keeps the density on all G = h·b1 + k·b2 + l·b3 with |G|² ≤ ecutrho
(Ry units: |G|² in bohr⁻², since E = |G|² Ry for a plane wave). The order of
that list matters: pw.x reads ``charge-density.dat`` back *by position*, not
by Miller index (QE's ``read_rhog`` skips the Miller record). This module
reproduces QE 6.7's ``ggen``: loop h, k, l in increasing order, keep the
vectors inside the sphere, sort by |G|² with QE's ``hpsort_eps`` (values
closer than 1e-8 in (2π/alat)² units count as equal and keep loop order).

All lengths are bohr, reciprocal vectors 1/bohr, cutoffs Ry. ``alat`` is
QE's lattice parameter; for ``ibrav=0`` input with ``CELL_PARAMETERS``
in bohr or angstrom pw.x takes the length of the first lattice vector, which
is the default here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from rhocat.errors import DensityFileError
from rhocat.units import BOHR_ANGSTROM

#: a G list longer than this, sorted without the compiled heapsort, gets a warning
SLOW_SORT_WARN_SIZE = 2000

try:  # QE's hpsort_eps in C, built at install when a C compiler is there (setup.py)
    from rhocat.qe import _hpsort as _hpsort_c
except ImportError:  # pragma: no cover - depends on the build
    _hpsort_c = None

__all__ = [
    "QE_BOHR_ANGSTROM",
    "reciprocal_vectors",
    "fft_grid_shape",
    "symmetry_fft_factors",
    "good_fft_order",
    "miller_indices",
    "g_cartesian",
    "check_density_gvectors",
]

#: The bohr radius in Å that pw.x uses to convert CELL_PARAMETERS / ATOMIC_POSITIONS
#: given in Å: rhocat's one bohr (:data:`rhocat.units.BOHR_ANGSTROM`, CODATA 2018).
#: Measured with Debian's pw.x 6.7MaX: a cell vector of 2.715 Å is 5.130606428358965
#: bohr in data-file-schema.xml = 2.715 / 0.529177210903 (the older 0.52917720859
#: would give 5.130606450785, a 4.4e-9 larger cell).
QE_BOHR_ANGSTROM = BOHR_ANGSTROM

_EPS8 = 1.0e-8
#: Decimals of the Å coordinates in the pw.x inputs rhocat writes (``rhocat.qe.inputs``).
INPUT_DECIMALS = 10


def _alat_units(cell_bohr: np.ndarray, alat: float | None) -> tuple[np.ndarray, np.ndarray, float]:
    """(at, bg, alat): lattice vectors (rows) in alat, reciprocal (rows) in 2π/alat."""
    cell = np.asarray(cell_bohr, dtype=np.float64).reshape(3, 3)
    if alat is None:
        alat = float(math.sqrt(cell[0] @ cell[0]))
    at = cell / alat
    # QE's recips(): explicit cross products over the determinant
    den = float(np.dot(at[0], np.cross(at[1], at[2])))
    if abs(den) < 1e-12:
        raise ValueError("degenerate cell: the lattice vectors are (nearly) coplanar")
    bg = np.array([np.cross(at[1], at[2]), np.cross(at[2], at[0]), np.cross(at[0], at[1])]) / den
    return at, bg, alat


def reciprocal_vectors(cell_bohr: np.ndarray) -> np.ndarray:
    """Reciprocal vectors b1, b2, b3 (rows) in 1/bohr, 2π included (a_i·b_j = 2π δ_ij)."""
    _, bg, alat = _alat_units(cell_bohr, None)
    return bg * (2 * math.pi / alat)


def _allowed(n: int) -> bool:
    """QE fft_support allowed() for FFTW: only prime factors 2, 3 and 5."""
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


def good_fft_order(n: int, factor: int = 1) -> int:
    """Smallest m ≥ n with only prime factors 2, 3, 5 and m a multiple of ``factor`` (QE's rule)."""
    m = int(n)
    while not (_allowed(m) and m % factor == 0):
        m += 1
    return m


def fft_grid_shape(
    cell_bohr: np.ndarray,
    ecutrho_ry: float,
    fft_fact: Sequence[int] = (1, 1, 1),
    *,
    alat: float | None = None,
) -> tuple[int, int, int]:
    """The dense FFT grid pw.x chooses (its "FFT dimensions" line).

    QE's ``realspace_grid_init``: n_i = 2·max|m_i| + 1 over the G vectors with
    |G|² < ecutrho, raised to the next size with only factors 2, 3, 5 that is
    a multiple of ``fft_fact[i]``. pw.x sets ``fft_fact`` from the fractional
    translations of the crystal's symmetry operations (e.g. 4 for diamond);
    :func:`rhocat.qe.gvectors.fft_grid_shape` cannot know them, pass them in.

    Args:
        cell_bohr: (3, 3) lattice vectors as rows, bohr.
        ecutrho_ry: density cutoff, Ry.
        fft_fact: required factor of each dimension.
        alat: QE's lattice parameter in bohr (default: length of the first vector).
    """
    at, bg, alat = _alat_units(cell_bohr, alat)
    gcutm = ecutrho_ry / (2 * math.pi / alat) ** 2
    est = [int(math.sqrt(gcutm) * math.sqrt(at[i] @ at[i])) + 1 for i in range(3)]
    r = [np.arange(-n, n + 1) for n in est]
    i, j, k = np.meshgrid(*r, indexing="ij")
    g = i[..., None] * bg[0] + j[..., None] * bg[1] + k[..., None] * bg[2]
    inside = (g**2).sum(axis=-1) < gcutm
    nb = [int(np.abs(x[inside]).max()) if inside.any() else 0 for x in (i, j, k)]
    return tuple(good_fft_order(2 * nb[d] + 1, int(fft_fact[d])) for d in range(3))


def symmetry_fft_factors(
    cell_bohr: np.ndarray, scaled_positions: np.ndarray, numbers: Sequence[int]
) -> tuple[int, int, int]:
    """The factors pw.x imposes on the FFT grid so fractional translations fit it.

    QE's ``sgam_at``: each symmetry operation with a fractional translation
    ft (crystal coordinates, reduced to [-1/2, 1/2]) whose components are 0 or
    ±1/n with n in {2, 3, 4, 6} is kept, and every n enters the least common
    multiple for that axis; other operations are discarded. In a supercell
    (a pure translation maps the crystal on itself) pw.x disables fractional
    translations: factors (1, 1, 1). Symmetry is found with spglib at QE's
    tolerance (1e-5 in crystal coordinates); ``nosym`` runs need (1, 1, 1).

    Args:
        cell_bohr: (3, 3) lattice vectors as rows, bohr.
        scaled_positions: (nat, 3) crystal coordinates.
        numbers: species label of each atom (atoms of equal label are equivalent).
    """
    import warnings

    import spglib

    cell = (np.asarray(cell_bohr, float), np.asarray(scaled_positions, float), list(numbers))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            sym = spglib.get_symmetry(
                cell, symprec=1e-5 * float(np.linalg.norm(cell[0], axis=1).min())
            )
        except Exception:  # spglib raises on degenerate input in newer versions
            sym = None
    if sym is None:
        return (1, 1, 1)
    rotations, translations = sym["rotations"], sym["translations"]
    identity = np.all(rotations == np.eye(3, dtype=int), axis=(1, 2))
    if identity.sum() > 1:
        return (1, 1, 1)
    fact = [1, 1, 1]
    for ft in translations:
        ft = ft - np.round(ft)
        ns = []
        for x in ft:
            if abs(x) <= 1e-5:
                ns.append(0)
                continue
            inv = 1.0 / abs(x)
            n = int(round(inv))
            if abs(inv - n) >= 1e-5 or n not in (2, 3, 4, 6):
                ns = None
                break
            ns.append(n)
        if ns is None:
            continue
        for d, n in enumerate(ns):
            if n:
                fact[d] = math.lcm(fact[d], n)
    return tuple(fact)


def _sort_like_qe(g2: np.ndarray) -> np.ndarray:
    """Permutation that QE's hpsort_eps(eps=1e-8) produces (ties by original index).

    When every gap between neighbouring sorted values is either far below or far above
    eps, "equal within eps" is transitive and the result is a sort by (cluster, index).
    A nearly symmetric cell (asymmetric at ~1e-8, e.g. relaxed by an interatomic
    potential) has gaps close to eps, where hpsort_eps's comparisons are not transitive
    and only the heapsort itself (:func:`_hpsort_eps`) gives pw.x's order.
    """
    order = np.argsort(g2, kind="stable")
    s = g2[order]
    gaps = np.diff(s)
    if np.any((gaps > _EPS8 * 1e-3) & (gaps < _EPS8 * 1e3)):
        return _hpsort_eps(g2, _EPS8)
    same = gaps < _EPS8  # neighbours hpsort_eps counts as equal
    if not np.any(same & (np.diff(order) < 0)):
        return order  # exact ties are already in index order
    cluster = np.concatenate([[0], np.cumsum(~same)])
    return order[np.lexsort((order, cluster))]


def _hpsort_eps(values: np.ndarray, eps: float) -> np.ndarray:
    """QE's ``hpsort_eps``: the permutation (0-based) that sorts ``values`` as pw.x does.

    The C build (:mod:`rhocat.qe._hpsort`, ~1 ms for 15,000 values) when it was compiled
    at install, else the Python port (:func:`_hpsort_eps_python`, ~0.1 s); both run the
    same comparisons in the same order.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    if _hpsort_c is None:
        if len(values) > SLOW_SORT_WARN_SIZE:
            warnings.warn(
                "rhocat's compiled G-vector sort (rhocat.qe._hpsort) is not built: the "
                "Python one adds up to a second per density of this size; reinstall with a "
                "C compiler present (`make setup`, or `pip install -e .`)",
                RuntimeWarning,
                stacklevel=2,
            )
        return _hpsort_eps_python(values, eps)
    return np.frombuffer(_hpsort_c.hpsort_eps(values, float(eps)), dtype=np.int64).copy()


def _hpsort_eps_python(values: np.ndarray, eps: float) -> np.ndarray:
    """QE's ``hpsort_eps`` (Numerical Recipes heapsort; values closer than ``eps`` are
    ordered by their index), line by line; returns the permutation (0-based)."""
    ra = [0.0, *map(float, values)]
    ind = list(range(len(ra)))
    n = len(values)
    if n < 2:
        return np.arange(n)
    left, ir = n // 2 + 1, n
    while True:
        if left > 1:  # hiring phase
            left -= 1
            rra, iind = ra[left], ind[left]
        else:  # retirement-and-promotion phase
            rra, iind = ra[ir], ind[ir]
            ra[ir], ind[ir] = ra[1], ind[1]
            ir -= 1
            if ir == 1:
                ra[1], ind[1] = rra, iind
                break
        i, j = left, 2 * left
        while j <= ir:
            if j < ir:
                if abs(ra[j] - ra[j + 1]) >= eps:
                    if ra[j] < ra[j + 1]:
                        j += 1
                elif ind[j] < ind[j + 1]:
                    j += 1
            if abs(rra - ra[j]) >= eps:
                demote = rra < ra[j]
            else:
                demote = iind < ind[j]
            if demote:
                ra[i], ind[i] = ra[j], ind[j]
                i, j = j, 2 * j
            else:
                j = ir + 1
        ra[i], ind[i] = rra, iind
    return np.asarray(ind[1:], dtype=np.int64) - 1


def as_written(values_ang: np.ndarray) -> np.ndarray:
    """Å values exactly as pw.x reads them from the inputs rhocat writes (``%.10f``)."""
    arr = np.asarray(values_ang, dtype=np.float64)
    flat = [float(f"{x:.{INPUT_DECIMALS}f}") for x in arr.ravel()]
    return np.array(flat).reshape(arr.shape)


def miller_indices(
    cell_bohr: np.ndarray,
    ecutrho_ry: float,
    *,
    gamma_only: bool = False,
    alat: float | None = None,
    written: bool = True,
) -> np.ndarray:
    """pw.x's G list: Miller indices of all G with |G|² ≤ ecutrho, in pw.x's order.

    Args:
        cell_bohr: (3, 3) lattice vectors as rows, bohr (exactly those pw.x uses).
        ecutrho_ry: density cutoff, Ry.
        gamma_only: only the half list pw.x keeps with Γ-point tricks.
        alat: QE's lattice parameter in bohr (default: length of the first vector).
        written: use the cell as a rhocat pw.x input prints it (Å to 10 decimals,
            :func:`as_written`), which is the one pw.x sorts with; False: as given.

    Returns:
        (ngm, 3) int32 array; row 0 is G = 0.
    """
    if written:  # the cell pw.x read: its |G|² ties (within 1e-8) decide the order
        cell_bohr = as_written(np.asarray(cell_bohr) * QE_BOHR_ANGSTROM) / QE_BOHR_ANGSTROM
    at, bg, alat = _alat_units(cell_bohr, alat)
    gcutm = ecutrho_ry / (2 * math.pi / alat) ** 2
    n = [int(math.sqrt(gcutm) * math.sqrt(at[d] @ at[d])) + 1 for d in range(3)]
    # columns (i, j) in QE's loop order; for each, the k interval where
    # |t0 + k b3|² ≤ gcut (a quadratic in k), widened by one on each side;
    # the exact test below is QE's own.
    ii, jj = np.meshgrid(np.arange(-n[0], n[0] + 1), np.arange(-n[1], n[1] + 1), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    t0 = ii[:, None] * bg[0] + jj[:, None] * bg[1]
    qa = float(bg[2] @ bg[2])
    qb = t0 @ bg[2]
    disc = qb * qb - qa * ((t0 * t0).sum(axis=1) - gcutm)
    root = np.sqrt(np.maximum(disc, 0.0))
    kmin = np.maximum(np.floor((-qb - root) / qa) - 1, -n[2]).astype(np.int64)
    kmax = np.minimum(np.ceil((-qb + root) / qa) + 1, n[2]).astype(np.int64)
    count = np.where(disc >= -1e-9 * gcutm * qa, np.maximum(kmax - kmin + 1, 0), 0)
    i = np.repeat(ii, count)
    j = np.repeat(jj, count)
    start = np.repeat(np.cumsum(count) - count, count)
    k = np.repeat(kmin, count) + (np.arange(int(count.sum())) - start)
    if gamma_only:
        keep = (i > 0) | ((i == 0) & (j > 0)) | ((i == 0) & (j == 0) & (k >= 0))
        i, j, k = i[keep], j[keep], k[keep]
    # same operation order as QE's ggen: ((i*b1 + j*b2) + k*b3), then t1²+t2²+t3²
    t = (i[:, None] * bg[0] + j[:, None] * bg[1]) + k[:, None] * bg[2]
    tt = (t[:, 0] ** 2 + t[:, 1] ** 2) + t[:, 2] ** 2
    inside = tt <= gcutm
    mill = np.stack([i[inside], j[inside], k[inside]], axis=1).astype(np.int32)
    g2 = np.where(tt[inside] > _EPS8, tt[inside], 0.0)
    return np.ascontiguousarray(mill[_sort_like_qe(g2)])


def g_cartesian(cell_bohr: np.ndarray, miller: np.ndarray) -> np.ndarray:
    """Cartesian G vectors, (ngm, 3) in 1/bohr (2π included), for Miller indices ``miller``."""
    return np.asarray(miller, dtype=np.float64) @ reciprocal_vectors(cell_bohr)


def check_density_gvectors(density, cell_bohr: np.ndarray, ecutrho_ry: float) -> None:
    """Raise DensityFileError unless ``density`` lists exactly pw.x's G vectors.

    The check compares the cell (through the stored reciprocal vectors), the
    number of G vectors and the Miller indices in order, which is what pw.x
    needs to read the density correctly with ``startingpot='file'``.

    Args:
        density: a :class:`rhocat.qe.density.ChargeDensity`.
        cell_bohr: (3, 3) lattice vectors as rows, bohr, of the structure to start.
        ecutrho_ry: density cutoff of the run, Ry.
    """
    b = reciprocal_vectors(cell_bohr)
    if not np.allclose(density.b, b, rtol=1e-6, atol=1e-8):
        raise DensityFileError(
            "the density was computed for another cell: its reciprocal vectors "
            f"{np.round(density.b, 5).tolist()} differ from the structure's "
            f"{np.round(b, 5).tolist()} (1/bohr)"
        )
    expected = miller_indices(cell_bohr, ecutrho_ry, gamma_only=density.gamma_only)
    if density.ngm != len(expected):
        raise DensityFileError(
            f"the density has {density.ngm} G vectors, but this structure at "
            f"ecutrho = {ecutrho_ry:g} Ry has {len(expected)}: computed with another cutoff?"
        )
    if not np.array_equal(density.miller, expected):
        bad = int(np.argmax((density.miller != expected).any(axis=1)))
        raise DensityFileError(
            f"the density's G vectors are not in pw.x's order (first difference at "
            f"position {bad}: {density.miller[bad].tolist()} vs {expected[bad].tolist()})"
        )
