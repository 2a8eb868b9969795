"""Reading a user's structure file (anything ASE reads) with a clear error."""

from __future__ import annotations

import os
from pathlib import Path

from ase import Atoms

from rhocat.errors import InputError


def _format_of(path: Path) -> str:
    """The format ASE guesses for ``path`` (its name for messages), or ``"unknown"``."""
    from ase.io.formats import filetype

    try:
        return str(filetype(str(path), guess=True))
    except Exception:  # ASE raises for formats it cannot tell
        return "unknown"


def read_structure(path: str | os.PathLike) -> Atoms:
    """One structure from a file ASE can read (CIF, POSCAR, extxyz, pw.x input...).

    A file holding several structures (frames of an extxyz trajectory) is refused
    with their count: which one is meant is the user's choice.

    Raises :class:`InputError` when the file is missing, a folder, unreadable (naming
    the format tried and ASE's reason), has several frames, or is not a 3-D crystal
    (no atoms, or a degenerate cell).
    """
    import ase.io

    from rhocat.structure_checks import check_cell

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a structure file")
    if not path.is_file():
        raise InputError(f"structure file {path} does not exist")
    fmt = _format_of(path)
    try:
        frames = ase.io.read(path, index=":")
    except Exception as exc:  # ASE raises many kinds for a bad file
        reason = str(exc).strip() or "no structure found in it"
        raise InputError(
            f"cannot read a structure from {path} (tried format {fmt}): "
            f"{type(exc).__name__}: {reason}"
        ) from None
    if not isinstance(frames, list):
        frames = [frames]
    if len(frames) != 1:
        raise InputError(
            f"{path} holds {len(frames)} structures (frames); rhocat reads one: write the one "
            f"you mean to its own file (e.g. ase convert -n 0 {path.name} first.{fmt})"
        )
    atoms = frames[0]
    if len(atoms) == 0 or atoms.cell.rank < 3:
        raise InputError(f"{path} does not hold a 3D periodic crystal")
    atoms.pbc = True
    check_cell(atoms)
    return atoms
