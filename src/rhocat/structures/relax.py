"""Relax candidate crystals with a universal interatomic potential, and rank their stability.

Prototype cells start at lattice parameters guessed from element radii (3-10%
off). Before the ground-truth SCF, :func:`relax_structures` relaxes positions
and cell with CHGNet 0.4.2 (trained on Materials Project PBE relaxations; its
weights ship inside its wheel, so it runs offline in about a second per small
cell on one CPU core). :func:`energies_above_hull` then places every relaxed
cell on the convex hull of the whole set (pymatgen's ``PhaseDiagram``) against
elemental references (the relaxed unaries, and CHGNet's H2, N2, O2, F2, Cl2 molecules
for the gases and iodine), so that cells far from stability can be dropped, as the paper's
Materials Project list implicitly does.

CHGNet is an optional dependency: ``pip install 'rhocat[relax]'``.
Energies are eV, lengths Å.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from rhocat.errors import InputError

#: Force threshold of the relaxation, eV/Å.
FMAX_EV_A = 0.05
#: Largest number of optimizer steps.
MAX_STEPS = 300
#: Elements whose reference state is a diatomic molecule (gases; solid iodine is a
#: molecular crystal of I2), with the bond lengths (Å) the relaxation starts from.
GAS_MOLECULES = {"H": 0.74, "N": 1.10, "O": 1.21, "F": 1.42, "Cl": 1.99, "Br": 2.28, "I": 2.67}
#: Edge of the cubic box of a molecular reference, Å.
MOLECULE_BOX_A = 10.0


@dataclass
class Relaxed:
    """A relaxed structure.

    Attributes:
        atoms: the relaxed cell (Å).
        energy_ev_per_atom: CHGNet energy per atom, eV.
        converged: whether max |force| fell below ``fmax`` within ``steps``.
        volume_change: relaxed / initial volume − 1.
        steps: optimizer steps taken.
    """

    atoms: Atoms
    energy_ev_per_atom: float
    converged: bool
    volume_change: float
    steps: int


def load_potential():
    """CHGNet's pretrained model (InputError naming the extra when it is not installed)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from chgnet.model import CHGNet
    except ImportError as exc:
        raise InputError(
            f"relaxing structures needs CHGNet ({exc}); install it with pip install 'rhocat[relax]'"
        ) from None
    return CHGNet.load(verbose=False)


def relax_structures(
    structures: Sequence[Atoms],
    fmax: float = FMAX_EV_A,
    steps: int = MAX_STEPS,
    relax_cell: bool = True,
    potential=None,
    progress: Callable[[int], None] | None = None,
) -> list[Relaxed]:
    """Relax each structure (positions and, by default, cell) with CHGNet's FIRE optimizer.

    Args:
        structures: cells to relax (not modified).
        fmax: force threshold, eV/Å.
        steps: largest number of optimizer steps per structure.
        relax_cell: relax the cell too (ASE's FrechetCellFilter).
        potential: a loaded CHGNet model (default: :func:`load_potential`).
        progress: called with 1 after each structure (e.g. ``tqdm.update``).
    """
    from chgnet.model import StructOptimizer
    from pymatgen.io.ase import AseAtomsAdaptor

    model = potential if potential is not None else load_potential()
    optimizer = StructOptimizer(model=model)
    out = []
    for atoms in structures:
        structure = AseAtomsAdaptor.get_structure(atoms)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = optimizer.relax(
                structure, fmax=fmax, steps=steps, relax_cell=relax_cell, verbose=False
            )
        final = AseAtomsAdaptor.get_atoms(result["final_structure"])
        final.info = {}
        trajectory = result["trajectory"]
        forces = np.asarray(trajectory.forces[-1])
        n_steps = len(trajectory.energies)
        out.append(
            Relaxed(
                atoms=final,
                energy_ev_per_atom=float(trajectory.energies[-1]) / len(final),
                converged=bool(np.abs(forces).max() < fmax * np.sqrt(3) and n_steps < steps),
                volume_change=float(final.get_volume() / atoms.get_volume() - 1.0),
                steps=n_steps,
            )
        )
        if progress is not None:
            progress(1)
    return out


def molecule_reference(element: str, potential=None) -> float:
    """CHGNet energy per atom (eV) of a diatomic gas molecule in a box (relaxed bond)."""
    if element not in GAS_MOLECULES:
        raise InputError(f"no molecular reference for {element}")
    d = GAS_MOLECULES[element]
    box = np.eye(3) * MOLECULE_BOX_A
    dimer = Atoms(f"{element}2", positions=[[0, 0, 0], [0, 0, d]], cell=box, pbc=True)
    (relaxed,) = relax_structures([dimer], relax_cell=False, potential=potential)
    return relaxed.energy_ev_per_atom


def energies_above_hull(
    formulas_energies: Sequence[tuple[dict[str, int], float]],
    references: dict[str, float],
) -> list[float]:
    """Energy above the convex hull (eV/atom) of each compound.

    Args:
        formulas_energies: (composition ``{"Ni": 1, "Ga": 1}``, energy per atom eV) per cell.
        references: energy per atom (eV) of each element's reference state; elements
            with a lower-energy unary among the cells use that instead.
    """
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    entries = [PDEntry(Composition(comp), e * sum(comp.values())) for comp, e in formulas_energies]
    elements = {el for comp, _ in formulas_energies for el in comp}
    missing = sorted(elements - set(references))
    if missing:
        raise InputError(f"no elemental reference energy for {', '.join(missing)}")
    refs = {el: PDEntry(Composition({el: 1}), references[el]) for el in sorted(elements)}
    # one small hull per chemical system (a hull over all elements at once would be
    # 15-dimensional): the cells whose elements are a subset of this cell's, + references
    diagrams: dict[frozenset, PhaseDiagram] = {}
    out = []
    for comp, entry in zip((c for c, _ in formulas_energies), entries, strict=True):
        system = frozenset(comp)
        if system not in diagrams:
            members = [e for (c, _), e in zip(formulas_energies, entries, strict=True)
                       if set(c) <= system]  # fmt: skip
            diagrams[system] = PhaseDiagram(members + [refs[el] for el in sorted(system)])
        out.append(float(diagrams[system].get_e_above_hull(entry, allow_negative=True)))
    return out
