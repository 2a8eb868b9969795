"""Start densities for pw.x built in Python: the G-vector list of a structure and the ACS.

Lengths are converted from Å with pw.x's own bohr (:mod:`rhocat.units`), so that the
G list is exactly pw.x's; reciprocal vectors ``b`` are in 1/bohr (2π included),
as pw.x writes them into ``charge-density.dat``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from ase import Atoms

from rhocat.qe.pseudo import PseudoFamily, load_family
from rhocat.units import BOHR_PER_ANGSTROM


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


def acs_like(density, atoms: Atoms, family: str | PseudoFamily | Mapping):
    """The ACS of ``atoms`` on the G list and reciprocal vectors of ``density`` (a
    :class:`rhocat.qe.density.ChargeDensity`, e.g. a prediction for the same structure).
    ``family``: a family name or folder, or a mapping symbol -> UPF path."""
    from rhocat.qe.acs import acs_rho_g

    pseudos = family if isinstance(family, Mapping) else load_family(family)
    rho = np.asarray(acs_rho_g(atoms, pseudos, density.miller), np.complex128)
    return type(density)(miller=density.miller, rho_g=rho[None], b=density.b)


def acs_restart(
    atoms: Atoms,
    family: str | PseudoFamily,
    ecutrho_ry: float,
    directory: str | os.PathLike,
    *,
    progress: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write the ACS (and atomic PAW occupations) into a folder pw.x reads with
    ``startingpot='file'``; returns the folder.

    A folder that is not empty is refused unless ``overwrite`` (which replaces
    ``charge-density.dat`` and ``paw.txt`` and leaves other files alone): the rule of
    :func:`rhocat.fileio.check_output_dir`, as for ``rhocat predict``.

    The memory it needs is estimated first (:mod:`rhocat.qe.resources`): a cell that
    would not fit is refused before any work; ``progress`` says on stderr what a
    large cell costs."""
    from rhocat.fileio import check_output_dir
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.resources import check_density_memory
    from rhocat.qe.save import write_restart

    check_output_dir(directory, force=overwrite, replaced="charge-density.dat, paw.txt")
    what = f"ACS of {atoms.get_chemical_formula()}"
    check_density_memory(cell_bohr(atoms), ecutrho_ry, len(atoms), what, progress=progress)
    family = load_family(family)
    density = acs_density(atoms, family, ecutrho_ry)
    return write_restart(directory, density, atomic_becsum(atoms, family))


#: Relative tolerance on the reciprocal vectors of a start density (pw.x writes 15 digits).
B_RTOL = 1e-6
#: Relative tolerance on its electron count (pw.x renormalises larger errors silently).
CHARGE_RTOL = 1e-3


def check_start_folder(
    folder: str | os.PathLike,
    atoms: Atoms,
    family: str | PseudoFamily,
    ecutrho_ry: float,
) -> None:
    """Refuse a restart folder that was not made for this structure and cutoff.

    pw.x reads ``charge-density.dat`` by position and renormalises its charge, so a
    density of another structure is "used" without complaint. Checked here, before
    pw.x starts: the file is complete; its reciprocal vectors are this cell's (1/bohr,
    relative ``B_RTOL``); its G list is the one pw.x builds for the cell at
    ``ecutrho_ry`` (count and order); it integrates to the valence electrons of the
    structure (relative ``CHARGE_RTOL``); ``paw.txt`` is there when a species is PAW.

    Raises:
        DensityFileError: naming the first mismatch (and the formula the folder records
            in ``prediction.json``, when it has one).
    """
    import json

    from rhocat.errors import DensityFileError
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.save import PREDICTION_RECORD

    folder = Path(folder)
    family = load_family(family)
    density = read_charge_density(folder / "charge-density.dat")  # complete, or raises
    formula = atoms.get_chemical_formula()
    recorded = ""
    try:
        made_for = json.loads((folder / PREDICTION_RECORD).read_text()).get("formula")
        if made_for:
            recorded = f" (it records {made_for})"
    except (OSError, ValueError, AttributeError):
        pass
    where = f"the start density in {folder}{recorded} was not made for this {formula} run"
    b = reciprocal_b(atoms)
    if density.b.shape != (3, 3) or not np.allclose(density.b, b, rtol=B_RTOL, atol=1e-9):
        raise DensityFileError(f"{where}: its cell (reciprocal vectors) differs")
    if not density.gamma_only:
        miller = gvector_list(atoms, ecutrho_ry)
        if len(density.miller) != len(miller):
            raise DensityFileError(
                f"{where}: it holds {len(density.miller)} G vectors, pw.x uses {len(miller)} "
                f"at ecutrho {ecutrho_ry:g} Ry"
            )
        if not np.array_equal(density.miller, miller):
            raise DensityFileError(f"{where}: its G vectors are not in pw.x's order")
    zero = np.flatnonzero(~np.asarray(density.miller).any(axis=1))
    volume = abs(float(np.linalg.det(cell_bohr(atoms))))
    n_file = float(density.rho_g[0, zero[0]].real * volume) if zero.size else float("nan")
    symbols = atoms.get_chemical_symbols()
    n_el = float(sum(family[s].z_valence for s in symbols))
    if not abs(n_file - n_el) <= CHARGE_RTOL * n_el:
        raise DensityFileError(
            f"{where}: it holds {n_file:.4g} electrons, {formula} has {n_el:g} valence electrons"
        )
    if any(family[s].kind == "PAW" for s in set(symbols)) and not (folder / "paw.txt").is_file():
        raise DensityFileError(
            f"{folder} has no paw.txt, which pw.x needs for the PAW species of {formula}"
        )
