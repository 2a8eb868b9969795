"""Reading a user's structure file (anything ASE reads) with a clear error."""

from __future__ import annotations

import os
from pathlib import Path

from ase import Atoms

from rhocat.errors import InputError


def read_structure(path: str | os.PathLike) -> Atoms:
    """One structure from a file ASE can read (CIF, POSCAR, extxyz, pw.x input...).

    Raises :class:`InputError` when the file is missing, unreadable, or not a 3D
    periodic crystal.
    """
    import ase.io

    path = Path(path)
    if not path.is_file():
        raise InputError(f"structure file {path} does not exist")
    try:
        atoms = ase.io.read(path)
    except Exception as exc:  # ASE raises many kinds for a bad file
        raise InputError(f"cannot read a structure from {path}: {exc}") from None
    if isinstance(atoms, list):
        atoms = atoms[-1]
    if len(atoms) == 0 or atoms.cell.rank < 3:
        raise InputError(f"{path} does not hold a 3D periodic crystal")
    atoms.pbc = True
    return atoms
