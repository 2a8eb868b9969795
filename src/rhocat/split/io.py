"""split.json: the split, one entry per candidate, readable without the candidate set.

Each entry gives id, split, reason, prototype, formula, elements, oxidation
states and the path of the structure file *relative to split.json*, so that
later stages load structures from ``split.json`` alone
(:func:`load_split_structures`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from ase import Atoms

from rhocat.errors import InputError
from rhocat.split.algorithm import SPLITS, Assignment, Split
from rhocat.split.table import summary_rows
from rhocat.structures.io import atomic_write_text, read_structure, write_structure

FORMAT = "rhocat-split"
VERSION = 1


def write_split(split: Split, path: str | os.PathLike) -> Path:
    """Write ``split`` as JSON to ``path`` (atomically).

    Candidates without a structure file (generated in memory) get one in
    ``<path stem>_structures/<id>.extxyz`` next to the JSON.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = []
    for a in split.assignments:
        if a.structure_path is None:
            if a.atoms is None:
                raise InputError(f"candidate {a.id} has neither a structure file nor a structure")
            target = path.parent / f"{path.stem}_structures" / f"{a.id}.extxyz"
            write_structure(target, a.atoms, {"id": a.id})
            a.structure_path = target.resolve()
        rel = os.path.relpath(Path(a.structure_path).resolve(), path.parent.resolve())
        entries.append(
            {
                "id": a.id,
                "split": a.split,
                "reason": a.reason,
                "prototype": a.prototype,
                "formula": a.formula,
                "elements": list(a.elements),
                "oxidation_states": a.oxidation_states,
                "species": list(a.species),
                "n_atoms": a.n_atoms,
                "structure": Path(rel).as_posix(),
            }
        )
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "parameters": split.parameters,
        "warnings": split.warnings,
        "summary": summary_rows(split),
        "candidates": entries,
    }
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    return path


def read_split(path: str | os.PathLike) -> Split:
    """Read a split written by :func:`write_split` (structures are not loaded)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"split file {path} not found")
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
        assignments = []
        for e in doc["candidates"]:
            if e["split"] not in SPLITS:
                raise ValueError(f"unknown split {e['split']!r} for {e['id']}")
            assignments.append(
                Assignment(
                    id=e["id"],
                    split=e["split"],
                    reason=e["reason"],
                    prototype=e["prototype"],
                    formula=e["formula"],
                    elements=tuple(e["elements"]),
                    oxidation_states={k: float(v) for k, v in e["oxidation_states"].items()},
                    species=tuple(e["species"]),
                    n_atoms=int(e["n_atoms"]),
                    structure_path=(path.parent / e["structure"]).resolve(),
                )
            )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path} is not a rhocat split file: {exc}") from None
    return Split(assignments, doc.get("parameters", {}), doc.get("warnings", []))


def load_split_structures(
    split_json: str | os.PathLike,
    splits: Iterable[str] | None = None,
    include_dropped: bool = False,
) -> list[tuple[str, str, Atoms]]:
    """Structures named in a split file: ``[(id, split_name, atoms), ...]`` (Å).

    Args:
        split_json: path of a file written by :func:`write_split`.
        splits: only these split names (default: all but ``dropped``).
        include_dropped: also return dropped candidates (when ``splits`` is None).
    """
    if splits is not None:
        wanted = set(splits)
        unknown = wanted - set(SPLITS)
        if unknown:
            raise InputError(f"unknown split name(s) {sorted(unknown)}; known: {SPLITS}")
    else:
        wanted = set(SPLITS) if include_dropped else set(SPLITS) - {"dropped"}
    split = read_split(split_json)
    out = []
    for a in split.assignments:
        if a.split in wanted:
            atoms = read_structure(a.structure_path)
            out.append((a.id, a.split, atoms))
    return out
