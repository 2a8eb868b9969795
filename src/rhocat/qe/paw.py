"""pw.x's ``paw.txt``: the PAW on-site occupations ("becsum").

For PAW runs pw.x writes ``rho%bec`` next to ``charge-density.dat`` with a
Fortran list-directed ``WRITE(iun, *) rho%bec`` and reads it back with
``READ(iun, *)`` when starting from file (QE 6.7, ``io_rho_xml.f90``); without
it a PAW restart stops with "Reading PAW becsum".

``rho%bec`` has Fortran shape (nhm·(nhm+1)/2, nat, nspin): for each atom and
spin, the packed upper triangle (ih ≤ jh, row by row) of the projector
occupation matrix Σ_n f_n ⟨ψ_n|β_ih⟩⟨β_jh|ψ_n⟩ (off-diagonal entries counted
twice), with nhm the largest number of projectors (counting m) of any
species in the run, PAW or not; non-PAW atoms have zeros. The values are
dimensionless (electrons).

The file itself does not say nat or nspin: the reader needs them. The
writer reproduces gfortran's list-directed format byte for byte (one record,
each value in 26 characters: a blank and ``G25.17E3``), which is what the
Debian build of QE 6.7 writes; the reader accepts any list-directed layout.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rhocat.errors import DensityFileError

__all__ = ["Becsum", "read_paw_txt", "write_paw_txt", "paw_txt_text"]


@dataclass
class Becsum:
    """PAW on-site occupations as pw.x stores them.

    Attributes:
        values: (nspin, nat, nhm·(nhm+1)/2) float64; ``values.ravel()`` is the
            Fortran order of QE's ``rho%bec(ijh, na, is)``.
    """

    values: np.ndarray

    def __post_init__(self) -> None:
        v = np.ascontiguousarray(self.values, dtype=np.float64)
        if v.ndim != 3:
            raise ValueError(f"becsum must be (nspin, nat, nij), got shape {v.shape}")
        nhm = _nhm_from_nij(v.shape[2])
        if nhm is None:
            raise ValueError(f"{v.shape[2]} is not nhm*(nhm+1)/2 for any nhm")
        self.values = v

    @property
    def nspin(self) -> int:
        """Number of spin components."""
        return int(self.values.shape[0])

    @property
    def nat(self) -> int:
        """Number of atoms."""
        return int(self.values.shape[1])

    @property
    def nhm(self) -> int:
        """Largest number of projectors (counting m) over the species."""
        return int(_nhm_from_nij(self.values.shape[2]))

    def matrix(self, atom: int, spin: int = 0, nh: int | None = None) -> np.ndarray:
        """The (nh, nh) symmetric occupation matrix of one atom (off-diagonals halved back).

        ``nh`` is the number of projectors (counting m) of the atom's species; QE packs
        only that species' upper triangle, row by row, at the start of the row of length
        nhm(nhm+1)/2. Default: nhm (right when the atom's species has the most projectors).
        """
        nh = self.nhm if nh is None else int(nh)
        iu = np.triu_indices(nh)
        m = np.zeros((nh, nh))
        m[iu] = self.values[spin, atom, : len(iu[0])]
        off = m - np.diag(np.diag(m))
        return np.diag(np.diag(m)) + (off + off.T) / 2


def _nhm_from_nij(nij: int) -> int | None:
    nhm = int(round((math.sqrt(8 * nij + 1) - 1) / 2))
    return nhm if nhm * (nhm + 1) // 2 == nij and nij > 0 else None


_REPEAT = re.compile(r"^(\d+)\*(.*)$")


def _parse_list_directed(text: str) -> list[float]:
    out: list[float] = []
    for tok in text.replace(",", " ").split():
        count = 1
        m = _REPEAT.match(tok)
        if m:
            count, tok = int(m.group(1)), m.group(2)
        out.extend([float(tok.replace("D", "E").replace("d", "e"))] * count)
    return out


def read_paw_txt(path: str | Path, nat: int, nspin: int = 1) -> Becsum:
    """Read a pw.x ``paw.txt``.

    Args:
        path: the file (``<prefix>.save/paw.txt``).
        nat: number of atoms of the run.
        nspin: number of spin components of the run (1 or 2).

    Raises:
        DensityFileError: missing file, non-numbers, or a count that fits no nhm.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise DensityFileError(f"cannot read PAW occupations {path}: {exc}") from exc
    try:
        vals = np.array(_parse_list_directed(text), dtype=np.float64)
    except ValueError as exc:
        raise DensityFileError(f"{path}: not a pw.x paw.txt ({exc})") from exc
    per = nat * nspin
    if vals.size == 0 or vals.size % per or _nhm_from_nij(vals.size // per) is None:
        raise DensityFileError(
            f"{path}: {vals.size} numbers do not fit nat={nat}, nspin={nspin} "
            "(expected nat·nspin·nhm(nhm+1)/2): truncated, or written for another structure"
        )
    return Becsum(vals.reshape(nspin, nat, vals.size // per))


def _g25_17(x: float) -> str:
    """gfortran's list-directed REAL(8) item: a blank, then G25.17E3."""
    if x == 0.0:
        body = ("-" if math.copysign(1.0, x) < 0 else "") + "0.0000000000000000"
        return " " + body.rjust(20) + " " * 5
    mant, exp = f"{x:.16e}".split("e")
    e = int(exp)
    neg = mant.startswith("-")
    digits = mant.lstrip("-").replace(".", "")  # 17 significant digits
    sign = "-" if neg else ""
    if -1 <= e <= 16:
        k = e + 1  # digits before the decimal point
        if k == 0:
            body = sign + "0." + digits
        else:
            body = sign + digits[:k] + "." + digits[k:]
        return " " + body.rjust(20) + " " * 5
    es = "-" if e < 0 else "+"
    body = f"{sign}{digits[0]}.{digits[1:]}E{es}{abs(e):03d}"
    return " " + body.rjust(25)


def paw_txt_text(becsum: Becsum) -> str:
    """The text gfortran's ``WRITE(iun, *) rho%bec`` produces for ``becsum``."""
    return "".join(_g25_17(float(v)) for v in becsum.values.ravel()) + "\n"


def write_paw_txt(path: str | Path, becsum: Becsum) -> None:
    """Write ``becsum`` as pw.x's ``paw.txt`` (atomically, byte-compatible with QE 6.7)."""
    from rhocat.fileio import atomic_write_bytes

    atomic_write_bytes(Path(path), paw_txt_text(becsum).encode("ascii"))
