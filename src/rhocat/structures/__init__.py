"""Candidate bulk structures: generation from prototypes, import, filters.

Python API (ASE ``Atoms`` in Å, plain data out)::

    generate_candidates(elements, prototypes=None, max_atoms=12, max_volume=200.0)
    import_structures(paths) -> (candidates, problems)
    fetch_materials_project(elements, api_key=None) -> candidates   # needs mp-api
    write_candidates(candidates, directory); read_candidates(directory)
"""

from rhocat.structures.candidate import Candidate, guess_oxidation_states, species_label
from rhocat.structures.filters import (
    MAX_ATOMS,
    MAX_VOLUME_A3,
    MIN_DISTANCE_RATIO,
    conventional_volume,
    rare_oxidation_states,
    too_close,
)
from rhocat.structures.generate import Generation, enumerate_candidates, generate_candidates
from rhocat.structures.io import import_structures, read_candidates, write_candidates
from rhocat.structures.mp import candidates_from_mp_docs, fetch_materials_project
from rhocat.structures.prototypes import PROTOTYPES, Prototype, build, get_prototype

__all__ = [
    "MAX_ATOMS",
    "MAX_VOLUME_A3",
    "MIN_DISTANCE_RATIO",
    "PROTOTYPES",
    "Candidate",
    "Generation",
    "Prototype",
    "build",
    "candidates_from_mp_docs",
    "conventional_volume",
    "enumerate_candidates",
    "fetch_materials_project",
    "generate_candidates",
    "get_prototype",
    "guess_oxidation_states",
    "import_structures",
    "rare_oxidation_states",
    "read_candidates",
    "species_label",
    "too_close",
    "write_candidates",
]
