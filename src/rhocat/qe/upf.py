"""Reader for Unified Pseudopotential Format (UPF) files, versions 1 and 2.

Only what rhocat needs is read: the radial mesh, the atomic valence charge
(``PP_RHOATOM``), the valence charge, the pseudopotential kind, the angular
momenta of the projectors and, for PAW, the atomic occupations of the
projector channels. Gzipped files (``*.gz``) are read transparently.

Units are QE's own: radii in bohr, ``rho_atom`` = 4πr²ρ(r) in e/bohr (so that
∫ rho_atom dr = number of valence electrons), cutoffs in Ry.

The parser does not use an XML library on purpose: many UPF files in the wild
are not well-formed XML (``&`` and ``<`` in ``PP_INFO``, UPF v1 has no root
element), and pw.x itself reads them with a tolerant tag scanner.
"""

from __future__ import annotations

import gzip
import html
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rhocat.errors import PseudoError

__all__ = ["Upf", "read_upf"]


@dataclass(frozen=True)
class Upf:
    """The parts of a UPF file rhocat uses.

    Attributes:
        path: the file that was read.
        version: ``"1"`` for UPF v1, else the ``version`` attribute (``"2.0.1"``).
        element: chemical symbol as written in the file (stripped).
        pseudo_type: ``"NC"`` (norm-conserving), ``"US"`` (ultrasoft) or ``"PAW"``.
        z_valence: number of valence electrons (e).
        functional: exchange-correlation functional as written in the file.
        mesh: number of radial mesh points used (QE's ``upf%mesh``).
        r: (mesh,) radial grid in bohr.
        rab: (mesh,) dr/di of the radial grid in bohr (integration weights).
        rho_atom: (mesh,) PP_RHOATOM = 4πr²ρ_atom(r) in e/bohr.
        beta_l: angular momentum of each projector (beta) function.
        paw_occupations: (nbeta,) atomic occupation of each projector channel
            (PP_PAW/PP_OCCUPATIONS), PAW only, else ``None``.
        ecutwfc: suggested wavefunction cutoff in Ry when the file states one.
        ecutrho: suggested density cutoff in Ry when the file states one.
    """

    path: Path
    version: str
    element: str
    pseudo_type: str
    z_valence: float
    functional: str
    mesh: int
    r: np.ndarray
    rab: np.ndarray
    rho_atom: np.ndarray
    beta_l: tuple[int, ...]
    paw_occupations: np.ndarray | None
    ecutwfc: float | None
    ecutrho: float | None

    @property
    def is_paw(self) -> bool:
        """True for a projector-augmented-wave dataset."""
        return self.pseudo_type == "PAW"

    @property
    def nbeta(self) -> int:
        """Number of projector functions."""
        return len(self.beta_l)

    @property
    def nh(self) -> int:
        """Number of projectors counting m (Σ over betas of 2l+1), QE's ``nh``."""
        return int(sum(2 * lb + 1 for lb in self.beta_l))


_ATTR = r"""(?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))"""
_ATTR_RE = re.compile(r"""([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_FORTRAN_EXP_RE = re.compile(r"^([+-]?[0-9.]+)([+-]\d{2,3})$")


def _open_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PseudoError(f"cannot read pseudopotential file {path}: {exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise PseudoError(f"{path} is a damaged gzip file: {exc}") from exc
    return raw.decode("latin-1")


def _tag(text: str, name: str, *, start: int = 0, required: bool = True):
    """Return (attrs, body, end) of the first ``<name ...>body</name>`` (or ``<name .../>``)."""
    pat = re.compile(r"<" + re.escape(name) + r"(" + _ATTR + r"*)\s*(/?)>", re.S)
    m = pat.search(text, start)
    if m is None:
        if required:
            raise KeyError(name)
        return None
    attrs = {
        k.lower(): html.unescape(v1 if v1 else v2) for k, v1, v2 in _ATTR_RE.findall(m.group(1))
    }
    if m.group(2) == "/":
        return attrs, "", m.end()
    close = text.find("</" + name, m.end())
    if close < 0:
        raise KeyError(f"</{name}>")
    return attrs, text[m.end() : close], close


def _numbers(body: str) -> np.ndarray:
    tokens = body.replace("D", "E").replace("d", "e").split()
    try:
        return np.array(tokens, dtype=float)
    except ValueError:
        fixed = [_FORTRAN_EXP_RE.sub(r"\1E\2", t) for t in tokens]
        return np.array(fixed, dtype=float)


def _bool(value: str | None) -> bool:
    return value is not None and value.strip().strip(".").upper() in ("T", "TRUE")


def _cutoff(value: str | float | None) -> float | None:
    if value is None:
        return None
    try:
        x = float(str(value).replace("D", "E").replace("d", "e"))
    except ValueError:
        return None
    return x if x > 0 else None


def _take(arr: np.ndarray, n: int, what: str, path: Path) -> np.ndarray:
    if arr.size < n:
        raise PseudoError(f"{path}: {what} has {arr.size} values, the mesh has {n}")
    return arr[:n].copy()


def read_upf(path: str | Path) -> Upf:
    """Read a UPF v1 or v2 file (optionally gzipped).

    Args:
        path: the ``.UPF`` / ``.upf`` / ``.upf.gz`` file.

    Returns:
        :class:`Upf` with radii in bohr, PP_RHOATOM in e/bohr, cutoffs in Ry.

    Raises:
        PseudoError: the file is missing, not a UPF file, or lacks a field.
    """
    path = Path(path)
    text = _open_text(path)
    try:
        if re.search(r"<UPF\s+version", text[:4096]):
            return _read_v2(path, text)
        if "<PP_HEADER>" in text:
            return _read_v1(path, text)
    except KeyError as exc:
        raise PseudoError(f"{path}: UPF section {exc.args[0]} is missing") from exc
    except (ValueError, IndexError) as exc:
        raise PseudoError(f"{path}: malformed UPF file ({exc})") from exc
    raise PseudoError(f"{path} is not a UPF pseudopotential file (no <PP_HEADER>)")


def _read_v2(path: Path, text: str) -> Upf:
    version = re.search(r"""<UPF\s+version\s*=\s*["']([^"']*)""", text).group(1)
    header, _, _ = _tag(text, "PP_HEADER")
    ptype = header.get("pseudo_type", "").strip().upper()
    if ptype == "PAW" or _bool(header.get("is_paw")):
        kind = "PAW"
    elif ptype in ("US", "USPP") or _bool(header.get("is_ultrasoft")):
        kind = "US"
    else:
        kind = "NC"
    mesh_attrs, mesh_body, _ = _tag(text, "PP_MESH")
    mesh = int(float(mesh_attrs.get("mesh", header.get("mesh_size", "0"))))
    _, r_body, _ = _tag(mesh_body, "PP_R")
    _, rab_body, _ = _tag(mesh_body, "PP_RAB")
    if mesh <= 0:
        mesh = _numbers(r_body).size
    r = _take(_numbers(r_body), mesh, "PP_R", path)
    rab = _take(_numbers(rab_body), mesh, "PP_RAB", path)
    _, rho_body, _ = _tag(text, "PP_RHOATOM")
    rho = _take(_numbers(rho_body), mesh, "PP_RHOATOM", path)
    nbeta = int(float(header.get("number_of_proj", "0")))
    beta_l = []
    for i in range(1, nbeta + 1):
        attrs, _, _ = _tag(text, f"PP_BETA.{i}")
        beta_l.append(int(float(attrs["angular_momentum"])))
    occ = None
    if kind == "PAW":
        paw = _tag(text, "PP_PAW", required=False)
        if paw is None:
            raise PseudoError(f"{path}: PAW file without a PP_PAW section")
        _, occ_body, _ = _tag(paw[1], "PP_OCCUPATIONS")
        occ = _take(_numbers(occ_body), nbeta, "PP_OCCUPATIONS", path)
    return Upf(
        path=path,
        version=version,
        element=header["element"].strip(),
        pseudo_type=kind,
        z_valence=float(header["z_valence"].replace("D", "E").replace("d", "e")),
        functional=header.get("functional", "").strip(),
        mesh=mesh,
        r=r,
        rab=rab,
        rho_atom=rho,
        beta_l=tuple(beta_l),
        paw_occupations=occ,
        ecutwfc=_cutoff(header.get("wfc_cutoff")),
        ecutrho=_cutoff(header.get("rho_cutoff")),
    )


def _read_v1(path: Path, text: str) -> Upf:
    _, hbody, _ = _tag(text, "PP_HEADER")
    lines = [ln for ln in hbody.splitlines() if ln.strip()]
    element = lines[1].split()[0]
    tword = lines[2].split()[0].upper()
    kind = "PAW" if tword == "PAW" else "US" if tword == "US" else "NC"
    functional = lines[4][:20].strip() if len(lines[4]) >= 20 else lines[4].strip()
    z_valence = float(lines[5].split()[0].replace("D", "E"))
    cut = lines[7].split()
    ecutwfc, ecutrho = _cutoff(cut[0]), _cutoff(cut[1])
    mesh = int(lines[9].split()[0])
    nbeta = int(lines[10].split()[1])
    _, mesh_body, _ = _tag(text, "PP_MESH")
    _, r_body, _ = _tag(mesh_body, "PP_R")
    _, rab_body, _ = _tag(mesh_body, "PP_RAB")
    r = _take(_numbers(r_body), mesh, "PP_R", path)
    rab = _take(_numbers(rab_body), mesh, "PP_RAB", path)
    _, rho_body, _ = _tag(text, "PP_RHOATOM")
    rho = _take(_numbers(rho_body), mesh, "PP_RHOATOM", path)
    beta_l = []
    pos = 0
    for _i in range(nbeta):
        _, bbody, pos = _tag(text, "PP_BETA", start=pos)
        beta_l.append(int(bbody.split()[1]))
    if kind == "PAW":
        raise PseudoError(f"{path}: PAW datasets in UPF v1 format are not supported; use UPF v2")
    return Upf(
        path=path,
        version="1",
        element=element,
        pseudo_type=kind,
        z_valence=z_valence,
        functional=functional,
        mesh=mesh,
        r=r,
        rab=rab,
        rho_atom=rho,
        beta_l=tuple(beta_l),
        paw_occupations=None,
        ecutwfc=ecutwfc,
        ecutrho=ecutrho,
    )
