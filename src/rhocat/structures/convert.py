"""Structures from anywhere: ASE ``Atoms``, pymatgen ``Structure``, AiiDA ``StructureData``.

Every function of rhocat's Python API that takes a structure passes it through
:func:`to_atoms` first, so a user keeps the object of their own ecosystem::

    from pymatgen.core import Structure
    predict_restart(model, Structure.from_file("si.cif"), out_dir="si.save")

pymatgen and AiiDA are recognised by duck typing (no import of either unless
the object comes from it): rhocat works without the ``aiida`` extra.
"""

from __future__ import annotations

import os
from typing import Any

from ase import Atoms

from rhocat.errors import InputError

#: What :func:`to_atoms` accepts, for error messages and docs.
ACCEPTED = "an ASE Atoms, a pymatgen Structure, an AiiDA StructureData or a structure file"


def _module(obj: Any) -> str:
    return type(obj).__module__ or ""


def to_atoms(structure: Any, *, copy: bool = True) -> Atoms:
    """An ASE ``Atoms`` (Å, periodic in 3-D) from any structure a user holds.

    Args:
        structure: ASE ``Atoms``; pymatgen ``Structure``/``IStructure`` (ordered,
            no partial occupancies); AiiDA ``StructureData`` (one kind per
            site, no vacancies or alloys); or a path to a structure file that
            ASE reads (CIF, POSCAR, extxyz, pw.x input...).
        copy: return a copy of an ``Atoms`` given (default), so that the caller's
            object is never changed; ``False`` returns it as is.

    Returns:
        ``Atoms`` with ``pbc=True`` (positions and cell in Å).

    Raises:
        InputError: an unknown type, a disordered pymatgen structure, an AiiDA
            structure with alloys or vacancies, or no 3-D cell.
    """
    if isinstance(structure, Atoms):
        atoms = structure.copy() if copy else structure
    elif isinstance(structure, str | os.PathLike):
        from rhocat.structure_io import read_structure

        atoms = read_structure(structure)
    elif _module(structure).startswith("pymatgen") and hasattr(structure, "lattice"):
        atoms = _from_pymatgen(structure)
    elif _module(structure).startswith("aiida") and callable(getattr(structure, "get_ase", None)):
        atoms = _from_aiida(structure)
    else:
        raise InputError(f"a structure must be {ACCEPTED}, not {type(structure).__name__}")
    if len(atoms) == 0 or atoms.cell.rank < 3:
        raise InputError("the structure is not a 3-D periodic crystal (no atoms or no 3-D cell)")
    atoms.pbc = True
    return atoms


def _from_pymatgen(structure: Any) -> Atoms:
    if not getattr(structure, "is_ordered", True):
        raise InputError(
            "the pymatgen structure has partial occupancies; rhocat needs an ordered crystal"
        )
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        atoms = AseAtomsAdaptor.get_atoms(structure)
    except Exception as exc:  # pymatgen raises several kinds for odd structures
        raise InputError(f"cannot convert the pymatgen structure: {exc}") from None
    return Atoms(  # drop pymatgen's site properties and calculators: only the crystal
        numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell.array, pbc=True
    )


def _from_aiida(structure: Any) -> Atoms:
    if getattr(structure, "is_alloy", False) or getattr(structure, "has_vacancies", False):
        raise InputError(
            "the AiiDA StructureData holds alloys or vacancies; rhocat needs one element per site"
        )
    try:
        atoms = structure.get_ase()
    except Exception as exc:  # aiida raises ValueError and others
        raise InputError(f"cannot convert the AiiDA StructureData: {exc}") from None
    return Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell.array, pbc=True)


def to_structure_data(structure: Any):
    """An unstored AiiDA ``StructureData`` of any structure :func:`to_atoms` accepts."""
    from aiida import orm

    if isinstance(structure, orm.StructureData):
        return structure
    return orm.StructureData(ase=to_atoms(structure))
