"""Start densities for pw.x built in Python: the G-vector list of a structure and the ACS.

Lengths are converted from Å with pw.x's own bohr (0.52917720859 Å), so that the
G list is exactly pw.x's; reciprocal vectors ``b`` are in 1/bohr (2π included),
as pw.x writes them into ``charge-density.dat``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase import Atoms

from rhocat.qe.gvectors import QE_BOHR_ANGSTROM
from rhocat.qe.pseudo import PseudoFamily, load_family

BOHR_PER_ANGSTROM = 1.0 / QE_BOHR_ANGSTROM


def cell_bohr(atoms: Atoms) -> np.ndarray:
    """(3, 3) lattice vectors (rows) in bohr."""
    return atoms.cell.array * BOHR_PER_ANGSTROM


def reciprocal_b(atoms: Atoms) -> np.ndarray:
    """(3, 3) reciprocal vectors b1, b2, b3 (rows) in 1/bohr, 2π included."""
    from rhocat.qe.gvectors import reciprocal_vectors

    return reciprocal_vectors(cell_bohr(atoms))


def gvector_list(atoms: Atoms, ecutrho_ry: float) -> np.ndarray:
    """(ngm, 3) Miller indices of the G vectors pw.x uses for ``atoms`` at ``ecutrho``."""
    from rhocat.qe.gvectors import miller_indices

    return miller_indices(cell_bohr(atoms), ecutrho_ry)


def acs_density(atoms: Atoms, family: str | PseudoFamily, ecutrho_ry: float):
    """The ACS as a :class:`rhocat.qe.density.ChargeDensity` (nspin 1, e/bohr³)."""
    from rhocat.qe.acs import acs_rho_g
    from rhocat.qe.density import ChargeDensity

    family = load_family(family)
    miller = gvector_list(atoms, ecutrho_ry)
    rho = acs_rho_g(atoms, family, miller)
    return ChargeDensity(miller=miller, rho_g=rho[None, :], b=reciprocal_b(atoms))


def acs_restart(
    atoms: Atoms,
    family: str | PseudoFamily,
    ecutrho_ry: float,
    directory: str | os.PathLike,
) -> Path:
    """Write the ACS (and atomic PAW occupations) into a folder pw.x reads with
    ``startingpot='file'``; returns the folder."""
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.save import write_restart

    family = load_family(family)
    density = acs_density(atoms, family, ecutrho_ry)
    return write_restart(directory, density, atomic_becsum(atoms, family))
