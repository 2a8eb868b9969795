"""One dataset entry: everything known about one structure, and its HDF5 file.

An entry is written by :func:`write_entry` to a temporary name, flushed to
disk (fsync) and renamed into place, so a file under its final name is always
complete. Failed runs are entries too (``status='failed'`` plus the reason and
pw.x's last output lines, no density), so that the directory of files alone is
enough to rebuild the index.

File layout (version 1; complex arrays are stored as float64 with a trailing
axis of length 2 = real, imaginary; all datasets gzip-compressed):

- attrs: ``format``, ``version``, ``id``, ``split``, ``status``, ``reason``,
  ``formula``, ``created``, ``json`` (all scalar metadata as one JSON string).
- ``structure/numbers`` (n,), ``structure/positions_bohr`` (n, 3),
  ``structure/cell_bohr`` (3, 3): the structure of the SCF (after relaxation).
- ``initial/...``: the same for the structure before perturbation/relaxation.
- ``density/miller`` (ngm, 3) int32, ``density/rho_g`` (nspin, ngm, 2) e/bohr³,
  ``density/rho_acs_g`` (ngm, 2) e/bohr³, ``density/b`` (3, 3) 2π/alat,
  attr ``gamma_only``.
- ``scf/accuracy_ry`` and ``scf/energies_ry`` (n_iterations,) Ry.
- ``paw/<name>`` (optional): PAW on-site occupations (becsum) arrays.

Compact layout (version 2, attr ``storage = "compact"``; chosen by the
dataset manifest's ``storage``): the same attributes, structures, SCF
history and PAW arrays, but the density holds only what cannot be recomputed:

- ``density/rho_g_half`` (nspin, nhalf, 2) float32 (re, im), e/bohr³: ρ(G)
  on G = 0 and the G whose first non-zero Miller index is > 0, in pw.x's
  order; the other half is ρ(−G) = ρ(G)* (a real density). Gamma-only runs
  already hold that half: stored as is. ``density/rho_g0`` (nspin, 2) float64:
  ρ(G = 0) at full precision, so that the electron count stays exact.
- ``density/b``, attrs ``gamma_only``, ``ngm`` (length of pw.x's list) and
  ``miller_sha256`` (hash of pw.x's (ngm, 3) int32 Miller list).
- no Miller list (recomputed on read with :func:`rhocat.qe.gvectors.miller_indices`
  from the cell, ``parameters.system.ecutrho`` and ``gamma_only``, then
  verified against ``ngm`` and ``miller_sha256``; written explicitly only in
  the unexpected case that the recomputation does not reproduce pw.x's list)
  and no ρ_ACS (recomputed from the pseudopotential family by
  :meth:`rhocat.data.store.Dataset.record`; :func:`read_entry` leaves it None).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from rhocat.errors import InputError
from rhocat.fileio import to_jsonable

FORMAT = "rhocat-entry"
VERSION = 1  # full storage
COMPACT_VERSION = 2
STORAGES = ("full", "compact")
#: ρ(G) − ρ(−G)* allowed before a compact write, relative to max |ρ(G)|
HERMITIAN_TOLERANCE = 1e-8
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass
class EntryRecord:
    """Everything stored for one structure (in memory).

    Lengths are bohr, energies Ry unless the name says ``_ev``, densities e/bohr³.
    ``meta`` holds JSON-serialisable scalars and small lists: ``energy_ry``,
    ``fermi_energy_ev``, ``band_gap_ev``, ``n_electrons``, ``fft_grid``,
    ``iterations``, ``converged``, ``parameters`` (full pw.x namelists),
    ``pseudos`` (element -> {file, md5}), ``timings`` (seconds),
    ``qe_version``, ``perturbation``, ``relax``, ``output_tail`` (failed runs).
    """

    id: str
    split: str
    status: str  # "ok" or "failed"
    reason: str = ""
    numbers: np.ndarray | None = None
    positions_bohr: np.ndarray | None = None
    cell_bohr: np.ndarray | None = None
    initial_numbers: np.ndarray | None = None
    initial_positions_bohr: np.ndarray | None = None
    initial_cell_bohr: np.ndarray | None = None
    miller: np.ndarray | None = None
    rho_g: np.ndarray | None = None  # (nspin, ngm) complex
    rho_acs_g: np.ndarray | None = None  # (ngm,) complex
    b: np.ndarray | None = None
    gamma_only: bool = False
    accuracy_ry: list[float] = field(default_factory=list)
    energies_ry: list[float] = field(default_factory=list)
    paw: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    storage: str = "full"  # how the file held it: "full" or "compact"

    @property
    def formula(self) -> str:
        numbers = self.numbers if self.numbers is not None else self.initial_numbers
        if numbers is None:
            return ""
        from ase.formula import Formula
        from ase.symbols import Symbols

        return str(Formula(str(Symbols(np.asarray(numbers)))).reduce()[0])

    @property
    def elements(self) -> list[str]:
        numbers = self.numbers if self.numbers is not None else self.initial_numbers
        if numbers is None:
            return []
        from ase.data import chemical_symbols

        return sorted({chemical_symbols[int(z)] for z in numbers})


def entry_filename(entry_id: str) -> str:
    """File name of an entry: the id itself when safe, else a sanitised id plus a hash."""
    if not entry_id:
        raise InputError("empty structure id")
    safe = _SAFE.sub("_", entry_id)
    if safe != entry_id or safe.startswith("."):
        digest = hashlib.sha1(entry_id.encode()).hexdigest()[:10]
        safe = f"{safe.lstrip('.')}-{digest}"
    return f"{safe}.h5"


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _c2r(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.complex128)
    return np.stack([a.real, a.imag], axis=-1)


def _r2c(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a[..., 0] + 1j * a[..., 1]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_entry(
    directory: str | os.PathLike, record: EntryRecord, storage: str = "full"
) -> tuple[Path, str]:
    """Write ``record`` atomically into ``directory``; return (final path, sha256).

    ``storage``: ``"full"`` (version 1) or ``"compact"`` (version 2, see the
    module docstring).

    The file is written under a temporary name (``.tmp-*``), fsynced, renamed
    over the final name with :func:`os.replace`, and the directory fsynced.
    """
    if storage not in STORAGES:
        raise InputError(f"entry storage must be one of {', '.join(STORAGES)}, not {storage!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / entry_filename(record.id)
    tmp = directory / f".tmp-{os.getpid()}-{time.monotonic_ns()}-{final.name}"
    try:
        with h5py.File(tmp, "w") as f:
            _fill(f, record, compact=storage == "compact")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        checksum = file_sha256(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    return final, checksum


def _fill(f: h5py.File, r: EntryRecord, compact: bool = False) -> None:
    f.attrs["format"] = FORMAT
    f.attrs["version"] = COMPACT_VERSION if compact else VERSION
    f.attrs["storage"] = "compact" if compact else "full"
    f.attrs["id"] = r.id
    f.attrs["split"] = r.split
    f.attrs["status"] = r.status
    f.attrs["reason"] = r.reason
    f.attrs["formula"] = r.formula
    f.attrs["elements"] = ",".join(r.elements)
    f.attrs["created"] = time.time()
    f.attrs["json"] = json.dumps(to_jsonable(r.meta))

    def put(group: str, name: str, data: np.ndarray | None, dtype: Any) -> None:
        if data is None:
            return
        arr = np.asarray(data, dtype=dtype)
        kw = _COMPRESSION if arr.size > 16 else {}
        f.require_group(group).create_dataset(name, data=arr, **kw)

    put("structure", "numbers", r.numbers, np.int32)
    put("structure", "positions_bohr", r.positions_bohr, np.float64)
    put("structure", "cell_bohr", r.cell_bohr, np.float64)
    put("initial", "numbers", r.initial_numbers, np.int32)
    put("initial", "positions_bohr", r.initial_positions_bohr, np.float64)
    put("initial", "cell_bohr", r.initial_cell_bohr, np.float64)
    if r.rho_g is not None and compact:
        _fill_compact_density(f, r)
        put("density", "b", r.b, np.float64)
    elif r.rho_g is not None:
        put("density", "miller", r.miller, np.int32)
        put("density", "rho_g", _c2r(np.atleast_2d(r.rho_g)), np.float64)
        if r.rho_acs_g is not None:
            put("density", "rho_acs_g", _c2r(r.rho_acs_g), np.float64)
        put("density", "b", r.b, np.float64)
        f["density"].attrs["gamma_only"] = bool(r.gamma_only)
    scf = f.require_group("scf")
    scf.create_dataset("accuracy_ry", data=np.asarray(r.accuracy_ry, dtype=np.float64))
    scf.create_dataset("energies_ry", data=np.asarray(r.energies_ry, dtype=np.float64))
    for name, arr in r.paw.items():
        put("paw", name, arr, np.float64)


def ecutrho_of(meta: dict[str, Any]) -> float:
    """The density cutoff (Ry) of an entry from its stored pw.x parameters."""
    system = (meta.get("parameters") or {}).get("system") or {}
    if system.get("ecutrho") is not None:
        return float(system["ecutrho"])
    if system.get("ecutwfc") is not None:
        return 4.0 * float(system["ecutwfc"])  # pw.x's default
    raise InputError("entry metadata has no ecutrho/ecutwfc: cannot rebuild its G list")


def pw_cell_bohr(cell_bohr: np.ndarray) -> np.ndarray:
    """The cell as pw.x read it, bohr: entries store Å × (1/0.529177210903) (CODATA
    2018); pw.x converted the same Å with its own bohr (0.52917720859 Å)."""
    from rhocat.qe.gvectors import QE_BOHR_ANGSTROM

    return np.asarray(cell_bohr, dtype=np.float64) * _CODATA_BOHR_ANGSTROM / QE_BOHR_ANGSTROM


_CODATA_BOHR_ANGSTROM = 0.529177210903


def recompute_miller(cell_bohr: np.ndarray, meta: dict[str, Any], gamma_only: bool) -> np.ndarray:
    """pw.x's Miller list of an entry, (ngm, 3) int32, from its cell (bohr) and parameters."""
    from rhocat.qe.gvectors import miller_indices

    return miller_indices(pw_cell_bohr(cell_bohr), ecutrho_of(meta), gamma_only=gamma_only)


def _miller_hash(miller: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(miller, dtype="<i4").tobytes()).hexdigest()


def half_sphere(miller: np.ndarray) -> np.ndarray:
    """Boolean mask of G = 0 and the G whose first non-zero Miller index is > 0."""
    m = np.asarray(miller)
    first = np.where(m[:, 0] != 0, m[:, 0], np.where(m[:, 1] != 0, m[:, 1], m[:, 2]))
    return first >= 0


def negative_index(miller: np.ndarray) -> np.ndarray:
    """For each G of ``miller`` the position of −G in the same list (−1 when absent)."""
    m = np.asarray(miller, dtype=np.int64)
    if len(m) == 0:
        return np.zeros(0, dtype=np.int64)
    span = 2 * np.abs(m).max(axis=0) + 1
    off = span // 2

    def key(x: np.ndarray) -> np.ndarray:
        return ((x[:, 0] + off[0]) * span[1] + (x[:, 1] + off[1])) * span[2] + (x[:, 2] + off[2])

    k, kn = key(m), key(-m)
    order = np.argsort(k)
    pos = np.clip(np.searchsorted(k, kn, sorter=order), 0, len(k) - 1)
    idx = order[pos]
    return np.where(k[idx] == kn, idx, -1)


def _fill_compact_density(f: h5py.File, r: EntryRecord) -> None:
    miller = np.asarray(r.miller, dtype=np.int32)
    rho = np.atleast_2d(np.asarray(r.rho_g, dtype=np.complex128))
    if rho.shape[-1] != len(miller):
        raise InputError(f"{r.id}: rho_g has {rho.shape[-1]} values for {len(miller)} G vectors")
    if r.gamma_only:
        half = np.ones(len(miller), dtype=bool)
    else:
        half = half_sphere(miller)
        neg = negative_index(miller)
        if np.any(neg < 0):
            raise InputError(f"{r.id}: the G list is not symmetric under G -> -G")
        other = ~half
        dev = np.abs(rho[:, other] - np.conj(rho[:, neg[other]])).max(initial=0.0)
        if dev > HERMITIAN_TOLERANCE * max(np.abs(rho).max(), 1e-300):
            raise InputError(
                f"{r.id}: rho(-G) != rho(G)* (deviation {dev:.3g}): not a real density, "
                "cannot be stored compactly"
            )
    d = f.require_group("density")
    d.attrs["gamma_only"] = bool(r.gamma_only)
    d.attrs["ngm"] = len(miller)
    d.attrs["miller_sha256"] = _miller_hash(miller)
    try:
        expected = recompute_miller(r.cell_bohr, r.meta, bool(r.gamma_only))
    except (InputError, ValueError):
        expected = None
    if expected is None or not np.array_equal(expected, miller):
        # pw.x's list is not reproduced from the stored cell: keep it explicitly
        d.create_dataset("miller", data=miller, **_COMPRESSION)
    half_values = _c2r(rho[:, half]).astype(np.float32)
    d.create_dataset("rho_g_half", data=half_values, **_COMPRESSION)
    zero = np.flatnonzero(np.all(miller == 0, axis=1))
    if zero.size:  # ρ(G=0) in float64: the electron count stays exact
        d.create_dataset("rho_g0", data=_c2r(rho[:, zero[0]]))


def _read_compact_density(
    f: h5py.File, cell_bohr: np.ndarray | None, meta: dict[str, Any], path: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(miller (ngm, 3) int32, rho_g (nspin, ngm) complex128) of a compact file."""
    d = f["density"]
    gamma_only = bool(d.attrs.get("gamma_only", False))
    ngm = int(d.attrs["ngm"])
    if "miller" in d:
        miller = d["miller"][()]
    else:
        if cell_bohr is None:
            raise InputError(f"{path}: compact entry without a structure")
        miller = recompute_miller(cell_bohr, meta, gamma_only)
        if len(miller) != ngm:
            raise InputError(
                f"{path}: the recomputed G list has {len(miller)} vectors, the entry {ngm} "
                "(cell or ecutrho changed?)"
            )
        if _miller_hash(miller) != _attr(d.attrs["miller_sha256"]):
            raise InputError(f"{path}: the recomputed G list is not in pw.x's order")
    half_values = _r2c(d["rho_g_half"][()])
    half = np.ones(ngm, dtype=bool) if gamma_only else half_sphere(miller)
    if half_values.shape[-1] != int(half.sum()):
        raise InputError(
            f"{path}: {half_values.shape[-1]} stored values for {int(half.sum())} G vectors"
        )
    rho = np.empty((half_values.shape[0], ngm), dtype=np.complex128)
    rho[:, half] = half_values
    zero = np.flatnonzero(np.all(miller == 0, axis=1))
    if "rho_g0" in d and zero.size:
        rho[:, zero[0]] = _r2c(d["rho_g0"][()])
    if not gamma_only:
        other = ~half
        neg = negative_index(miller)[other]
        if np.any(neg < 0):
            raise InputError(f"{path}: the G list is not symmetric under G -> -G")
        rho[:, other] = np.conj(rho[:, neg])
    return miller, rho


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """The scalar attributes and metadata of an entry file (no arrays read)."""
    try:
        with h5py.File(path, "r") as f:
            _check_format(f, path)
            out = {k: _attr(v) for k, v in f.attrs.items() if k != "json"}
            out["meta"] = json.loads(f.attrs["json"])
            if "density/rho_g_half" in f:
                out["ngm"] = int(f["density"].attrs["ngm"])
                out["nspin"] = int(f["density/rho_g_half"].shape[0])
            elif "density" in f:
                out["ngm"] = int(f["density/miller"].shape[0])
                out["nspin"] = int(f["density/rho_g"].shape[0])
            if "structure/numbers" in f:
                out["n_atoms"] = int(f["structure/numbers"].shape[0])
            elif "initial/numbers" in f:
                out["n_atoms"] = int(f["initial/numbers"].shape[0])
            return out
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: not a readable rhocat entry ({exc})") from exc


def read_entry(path: str | os.PathLike) -> EntryRecord:
    """Read a whole entry file back into an :class:`EntryRecord`.

    Compact files come back with the full Miller list and ρ(G) on the whole
    sphere (float32 precision), but ``rho_acs_g`` None: the ACS needs the
    dataset's pseudopotential family (:meth:`rhocat.data.store.Dataset.record`).
    """
    try:
        with h5py.File(path, "r") as f:
            _check_format(f, path)

            def get(name: str) -> np.ndarray | None:
                return f[name][()] if name in f else None

            rec = EntryRecord(
                id=_attr(f.attrs["id"]),
                split=_attr(f.attrs["split"]),
                status=_attr(f.attrs["status"]),
                reason=_attr(f.attrs["reason"]),
                numbers=get("structure/numbers"),
                positions_bohr=get("structure/positions_bohr"),
                cell_bohr=get("structure/cell_bohr"),
                initial_numbers=get("initial/numbers"),
                initial_positions_bohr=get("initial/positions_bohr"),
                initial_cell_bohr=get("initial/cell_bohr"),
                miller=get("density/miller"),
                b=get("density/b"),
                accuracy_ry=list(get("scf/accuracy_ry") if "scf" in f else []),
                energies_ry=list(get("scf/energies_ry") if "scf" in f else []),
                meta=json.loads(f.attrs["json"]),
            )
            rec.storage = _attr(f.attrs.get("storage", "full"))
            if "density/rho_g_half" in f:
                rec.miller, rec.rho_g = _read_compact_density(f, rec.cell_bohr, rec.meta, path)
                rec.gamma_only = bool(f["density"].attrs.get("gamma_only", False))
            elif "density" in f:
                rec.rho_g = _r2c(f["density/rho_g"][()])
                if "density/rho_acs_g" in f:
                    rec.rho_acs_g = _r2c(f["density/rho_acs_g"][()])
                rec.gamma_only = bool(f["density"].attrs.get("gamma_only", False))
            if "paw" in f:
                rec.paw = {k: f["paw"][k][()] for k in f["paw"]}
            return rec
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: not a readable rhocat entry ({exc})") from exc


def _check_format(f: h5py.File, path: Any) -> None:
    if _attr(f.attrs.get("format", "")) != FORMAT:
        raise InputError(f"{path}: not a rhocat entry file")
    if int(f.attrs.get("version", 0)) > COMPACT_VERSION:
        raise InputError(
            f"{path}: entry format version {f.attrs['version']} is newer than {COMPACT_VERSION}"
        )


def _attr(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v
