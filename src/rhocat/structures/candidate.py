"""The candidate record and its oxidation-state guess.

A :class:`Candidate` is a bulk structure (``ase.Atoms``, Å) plus the metadata
the split needs: a stable id (``<prototype>-<formula>``, e.g.
``rocksalt-GaN``), its prototype, reduced formula, sorted element tuple and
pymatgen's oxidation-state guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from ase import Atoms

_ID_OK = re.compile(r"[^A-Za-z0-9_.+-]+")


@lru_cache(maxsize=4096)
def _guess(reduced_formula: str) -> tuple[tuple[str, float], ...]:
    from pymatgen.core import Composition

    comp = Composition(reduced_formula)
    if len(comp.elements) == 1:
        return ((str(comp.elements[0]), 0.0),)
    guesses = comp.oxi_state_guesses()
    if not guesses:
        return tuple((str(e), 0.0) for e in comp.elements)
    return tuple((str(k), round(float(v), 3)) for k, v in guesses[0].items())


def guess_oxidation_states(formula: str) -> dict[str, float]:
    """Most probable oxidation states of a composition (pymatgen's ``oxi_state_guesses``).

    Unaries get 0; compositions without any charge-balanced guess (intermetallics
    such as NiAl or Cu2NiGa) get 0 for every element (metallic). Cached per
    reduced formula (about 1 ms each after pymatgen's tables are loaded).
    """
    from pymatgen.core import Composition

    reduced = Composition(formula).reduced_formula
    return dict(_guess(reduced))


def species_label(element: str, state: float) -> str:
    """``Ga3+``, ``N3-``, ``Cu0``: an element in an oxidation state."""
    if abs(state) < 1e-9:
        return f"{element}0"
    return f"{element}{abs(state):g}{'+' if state > 0 else '-'}"


def reduced_formula(atoms: Atoms) -> str:
    """pymatgen's reduced formula of a structure (``GaN``, ``Cu2NiGa``...)."""
    from pymatgen.core import Composition

    return Composition(atoms.get_chemical_formula()).reduced_formula


def sanitize_id(text: str) -> str:
    """Make ``text`` usable as a file name and id (letters, digits, ``_.+-``)."""
    out = _ID_OK.sub("_", text).strip("._")
    return out or "structure"


@dataclass
class Candidate:
    """A bulk structure with the metadata the split needs.

    Attributes:
        id: stable id, ``<prototype>-<formula in site order>`` (e.g. ``rocksalt-GaN``).
        prototype: prototype name (see :data:`rhocat.structures.prototypes.PROTOTYPES`),
            or ``sg<number>`` (space group) for imported structures.
        formula: pymatgen reduced formula.
        elements: sorted tuple of the element symbols (the "element combination").
        atoms: the cell, Å (primitive for generated candidates).
        oxidation_states: element -> guessed oxidation state (0 for metals).
        source: ``generated``, a file path, or a Materials Project id.
        meta: anything else (conventional-cell volume in Å³, lattice notes, ...).
        path: structure file this candidate was read from or written to, if any.
    """

    id: str
    prototype: str
    formula: str
    elements: tuple[str, ...]
    atoms: Atoms
    oxidation_states: dict[str, float]
    source: str = "generated"
    meta: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def n_elements(self) -> int:
        return len(self.elements)

    @property
    def n_atoms(self) -> int:
        return len(self.atoms)

    @property
    def species(self) -> tuple[str, ...]:
        """Sorted oxidation-state labels, e.g. ``('Ga3+', 'N3-')``."""
        return tuple(sorted(species_label(e, q) for e, q in self.oxidation_states.items()))

    @property
    def system(self) -> str:
        """Element combination as ``Ga-N`` (elements sorted alphabetically)."""
        return "-".join(self.elements)

    def to_dict(self) -> dict:
        """JSON-serialisable metadata (not the structure itself)."""
        return {
            "id": self.id,
            "prototype": self.prototype,
            "formula": self.formula,
            "elements": list(self.elements),
            "oxidation_states": dict(self.oxidation_states),
            "species": list(self.species),
            "n_atoms": self.n_atoms,
            "volume_A3": round(float(self.atoms.get_volume()), 6),
            "source": self.source,
            "meta": self.meta,
        }


def make_candidate(
    cid: str,
    prototype: str,
    atoms: Atoms,
    source: str = "generated",
    meta: dict | None = None,
) -> Candidate:
    """Build a :class:`Candidate` from a structure, guessing its oxidation states."""
    formula = reduced_formula(atoms)
    elements = tuple(sorted(set(atoms.get_chemical_symbols())))
    atoms = atoms.copy()
    atoms.pbc = True
    atoms.wrap()
    atoms.positions[np.abs(atoms.positions) < 1e-12] = 0.0
    return Candidate(
        id=cid,
        prototype=prototype,
        formula=formula,
        elements=elements,
        atoms=atoms,
        oxidation_states=guess_oxidation_states(formula),
        source=source,
        meta=dict(meta or {}),
    )
