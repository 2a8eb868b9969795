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
VERSION = 1
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


def write_entry(directory: str | os.PathLike, record: EntryRecord) -> tuple[Path, str]:
    """Write ``record`` atomically into ``directory``; return (final path, sha256).

    The file is written under a temporary name (``.tmp-*``), fsynced, renamed
    over the final name with :func:`os.replace`, and the directory fsynced.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / entry_filename(record.id)
    tmp = directory / f".tmp-{os.getpid()}-{time.monotonic_ns()}-{final.name}"
    try:
        with h5py.File(tmp, "w") as f:
            _fill(f, record)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        checksum = file_sha256(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    return final, checksum


def _fill(f: h5py.File, r: EntryRecord) -> None:
    f.attrs["format"] = FORMAT
    f.attrs["version"] = VERSION
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
    if r.rho_g is not None:
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


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """The scalar attributes and metadata of an entry file (no arrays read)."""
    try:
        with h5py.File(path, "r") as f:
            _check_format(f, path)
            out = {k: _attr(v) for k, v in f.attrs.items() if k != "json"}
            out["meta"] = json.loads(f.attrs["json"])
            if "density" in f:
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
    """Read a whole entry file back into an :class:`EntryRecord`."""
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
            if "density" in f:
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
    if int(f.attrs.get("version", 0)) > VERSION:
        raise InputError(
            f"{path}: entry format version {f.attrs['version']} is newer than {VERSION}"
        )


def _attr(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v
