"""Candidate sets on disk, and import of user structure files.

A candidate directory holds one extended-XYZ file per candidate (``<id>.extxyz``,
Å) and ``candidates.json`` (metadata, the structure file name relative to the
directory, and what the generator rejected). Files are written under a
temporary name and moved into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ase import Atoms

from rhocat.errors import InputError
from rhocat.fileio import atomic_path, atomic_write_text
from rhocat.structures.candidate import Candidate, make_candidate, sanitize_id
from rhocat.structures.filters import (
    MAX_ATOMS,
    MAX_VOLUME_A3,
    MIN_DISTANCE_RATIO,
    conventional_volume,
    size_problem,
    space_group_number,
    too_close,
)

INDEX_NAME = "candidates.json"
FORMAT_VERSION = 1


def write_structure(path: Path, atoms: Atoms, info: dict | None = None) -> None:
    """Write one structure as extended XYZ (Å), atomically."""
    from ase.io import write

    out = atoms.copy()
    out.info = dict(info or {})
    with atomic_path(path) as tmp:
        write(tmp, out, format="extxyz")


def read_structure(path: Path) -> Atoms:
    """Read one extended-XYZ structure written by :func:`write_structure` (Å)."""
    from ase.io import read

    try:
        atoms = read(str(path), format="extxyz")
    except FileNotFoundError:
        raise InputError(f"structure file {path} is missing") from None
    except Exception as exc:  # ASE raises many kinds on a damaged file
        raise InputError(f"cannot read structure file {path}: {exc}") from None
    atoms.info = {}
    return atoms


def write_candidates(
    candidates: Sequence[Candidate],
    directory: str | os.PathLike,
    parameters: dict | None = None,
    rejected: Sequence[dict] | None = None,
) -> Path:
    """Write ``<id>.extxyz`` per candidate and ``candidates.json`` into ``directory``.

    Sets ``candidate.path`` on each candidate. Structure files of an earlier
    candidate set in the same directory that are no longer listed are removed.
    Returns the path of ``candidates.json``.
    """
    directory = Path(directory)
    ids = [c.id for c in candidates]
    if len(set(ids)) != len(ids):
        raise InputError("duplicate candidate ids; cannot write them to one directory")
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    index = directory / INDEX_NAME
    old_files: set[str] = set()
    if index.exists():
        try:
            old_files = {e["structure"] for e in json.loads(index.read_text())["candidates"]}
        except (ValueError, KeyError, TypeError):
            old_files = set()
    entries = []
    for c in candidates:
        name = f"{c.id}.extxyz"
        write_structure(directory / name, c.atoms, {"id": c.id})
        c.path = (directory / name).resolve()
        entries.append({**c.to_dict(), "structure": name})
    doc = {
        "format": "rhocat-candidates",
        "version": FORMAT_VERSION,
        "parameters": parameters or {},
        "candidates": entries,
        "rejected": list(rejected or []),
    }
    atomic_write_text(index, json.dumps(doc, indent=1) + "\n")
    for name in old_files - {e["structure"] for e in entries}:
        stale = directory / name
        if stale.parent == directory and stale.suffix == ".extxyz":
            stale.unlink(missing_ok=True)
    return index


def _index_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path / INDEX_NAME if path.is_dir() else path


def read_candidates(path: str | os.PathLike) -> list[Candidate]:
    """Read a candidate directory (or its ``candidates.json``) from :func:`write_candidates`."""
    index = _index_path(path)
    if not index.exists():
        raise InputError(
            f"{index} not found: expected a directory written by "
            "'rhocat structures generate/import'"
        )
    try:
        doc = json.loads(index.read_text())
        entries = doc["candidates"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{index} is not a candidates.json file: {exc}") from None
    out = []
    for e in entries:
        try:
            spath = (index.parent / e["structure"]).resolve()
            atoms = read_structure(spath)
            c = Candidate(
                id=e["id"],
                prototype=e["prototype"],
                formula=e["formula"],
                elements=tuple(e["elements"]),
                atoms=atoms,
                oxidation_states={k: float(v) for k, v in e["oxidation_states"].items()},
                source=e.get("source", ""),
                meta=e.get("meta", {}),
                path=spath,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{index}: malformed candidate entry {e!r:.80}: {exc}") from None
        out.append(c)
    return out


def _read_any(path: Path) -> list[Atoms]:
    """All structures in a file ASE can read (CIF, POSCAR, extxyz, ASE db, ...)."""
    from ase.io import read

    if path.suffix == ".db":
        from ase.db import connect

        with connect(str(path)) as db:
            return [row.toatoms() for row in db.select()]
    images = read(str(path), index=":")
    return list(images) if isinstance(images, list) else [images]


def import_structures(
    paths: Iterable[str | os.PathLike],
    max_atoms: int | None = MAX_ATOMS,
    max_volume: float | None = MAX_VOLUME_A3,
    min_distance_ratio: float | None = MIN_DISTANCE_RATIO,
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Import structure files as candidates; unreadable or rejected ones are reported.

    Ids follow the generator's scheme ``<prototype>-<formula>`` where the
    "prototype" of an imported structure is its space group (``sg225-NaCl``);
    a repeated id gets ``-2``, ``-3``... in input order. The same filters as the
    generator apply (``None`` switches one off).

    Returns:
        (candidates, problems): problems are ``(path, message)`` pairs for files
        that could not be read or structures that a filter rejected.

    Raises:
        InputError: no paths given.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no structure files given")
    candidates: list[Candidate] = []
    problems: list[tuple[str, str]] = []
    used: dict[str, int] = {}
    for path in paths:
        if not path.is_file():
            problems.append((str(path), "no such file"))
            continue
        try:
            images = _read_any(path)
        except Exception as exc:  # ASE/pymatgen raise anything on a corrupt file
            problems.append((str(path), f"unreadable: {type(exc).__name__}: {exc}"[:300]))
            continue
        if not images:
            problems.append((str(path), "no structure in file"))
            continue
        for k, atoms in enumerate(images):
            label = str(path) if len(images) == 1 else f"{path}[{k}]"
            if len(atoms) == 0 or atoms.cell.rank < 3:
                problems.append((label, "not a periodic bulk structure (no 3D cell)"))
                continue
            if not 1 <= len(set(atoms.get_chemical_symbols())) <= 3:
                problems.append((label, "has more than 3 elements"))
                continue
            atoms = atoms.copy()
            atoms.pbc = True
            reason = size_problem(atoms, max_atoms, max_volume)
            if reason is None and min_distance_ratio is not None:
                reason = too_close(atoms, min_distance_ratio)
            if reason is not None:
                problems.append((label, f"rejected: {reason}"))
                continue
            sg = space_group_number(atoms, symprec=1e-2)
            cand = make_candidate("tmp", f"sg{sg}", atoms, source=label)
            base = sanitize_id(f"sg{sg}-{cand.formula}")
            used[base] = used.get(base, 0) + 1
            cand.id = base if used[base] == 1 else f"{base}-{used[base]}"
            cand.meta["conventional_volume_A3"] = round(conventional_volume(atoms, 1e-2), 4)
            candidates.append(cand)
    return candidates, problems
