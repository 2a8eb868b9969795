"""Optional: candidates from the Materials Project (needs ``mp-api`` and ``MP_API_KEY``).

The paper's candidates are Materials Project structures of 1-3 elements from
a chosen element list. :func:`fetch_materials_project` asks the summary
endpoint for every element combination of 1-3 of ``elements`` with an energy
above the hull of at most ``max_e_above_hull`` eV/atom and at most
``max_atoms`` sites, then applies the same filters as the generator.
``mp_api`` is imported only when called; it is not a dependency of rhocat
(``pip install mp-api``). :func:`candidates_from_mp_docs` turns the documents
(objects or dicts, the shape ``mp-api`` returns) into candidates and is what
the tests exercise against a recorded response.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence

from rhocat.errors import InputError, MissingToolError, RhocatError
from rhocat.structures.candidate import Candidate, make_candidate, sanitize_id
from rhocat.structures.elements import check_elements
from rhocat.structures.filters import (
    MAX_ATOMS,
    MAX_VOLUME_A3,
    MIN_DISTANCE_RATIO,
    conventional_volume,
    size_problem,
    space_group_number,
    too_close,
)

MP_FIELDS = ["material_id", "formula_pretty", "structure", "energy_above_hull", "nsites"]


class MaterialsProjectError(RhocatError):
    """The Materials Project could not be queried (no key, no client, no network)."""


def _get(doc, key: str):
    if isinstance(doc, dict):
        return doc.get(key)
    return getattr(doc, key, None)


def chemical_systems(elements: Iterable[str], max_elements: int = 3) -> list[str]:
    """``["Cu", "Ni", "Cu-Ni", ...]``: every combination of 1..max_elements elements."""
    els = sorted(check_elements(elements))
    return ["-".join(c) for n in range(1, max_elements + 1) for c in itertools.combinations(els, n)]


def candidates_from_mp_docs(
    docs: Sequence,
    max_atoms: int | None = MAX_ATOMS,
    max_volume: float | None = MAX_VOLUME_A3,
    min_distance_ratio: float | None = MIN_DISTANCE_RATIO,
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Candidates from Materials Project summary documents.

    Each document needs ``material_id`` and ``structure`` (a pymatgen ``Structure``
    or its ``as_dict()``). Ids are ``<material_id>-<formula>`` (``mp-149-Si``);
    the prototype is the space group (``sg227``). Returns (candidates, problems).
    """
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    candidates: list[Candidate] = []
    problems: list[tuple[str, str]] = []
    for doc in sorted(docs, key=lambda d: str(_get(d, "material_id"))):
        mid = str(_get(doc, "material_id") or "")
        raw = _get(doc, "structure")
        if not mid or raw is None:
            problems.append((mid or "?", "document without material_id or structure"))
            continue
        try:
            structure = raw if isinstance(raw, Structure) else Structure.from_dict(raw)
            atoms = AseAtomsAdaptor.get_atoms(structure)
        except Exception as exc:  # malformed structure dict
            problems.append((mid, f"unusable structure: {exc}"[:300]))
            continue
        if len(set(atoms.get_chemical_symbols())) > 3:
            problems.append((mid, "has more than 3 elements"))
            continue
        atoms.info = {}
        for key in list(atoms.arrays):
            if key not in ("numbers", "positions"):
                del atoms.arrays[key]
        reason = size_problem(atoms, max_atoms, max_volume)
        if reason is None and min_distance_ratio is not None:
            reason = too_close(atoms, min_distance_ratio)
        if reason is not None:
            problems.append((mid, f"rejected: {reason}"))
            continue
        sg = space_group_number(atoms, symprec=1e-2)
        meta = {
            "conventional_volume_A3": round(conventional_volume(atoms, 1e-2), 4),
            "energy_above_hull_eV": _get(doc, "energy_above_hull"),
        }
        cand = make_candidate("tmp", f"sg{sg}", atoms, source=mid, meta=meta)
        cand.id = sanitize_id(f"{mid}-{cand.formula}")
        candidates.append(cand)
    return candidates, problems


def fetch_materials_project(
    elements: Iterable[str],
    api_key: str | None = None,
    max_elements: int = 3,
    max_e_above_hull: float = 0.1,
    max_atoms: int | None = MAX_ATOMS,
    max_volume: float | None = MAX_VOLUME_A3,
    min_distance_ratio: float | None = MIN_DISTANCE_RATIO,
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Query the Materials Project for candidates of 1..max_elements of ``elements``.

    Args:
        api_key: Materials Project API key (default: environment ``MP_API_KEY``).
        max_e_above_hull: stability cut, eV/atom.

    Raises:
        MaterialsProjectError: no key, or the query failed (network, bad key).
        MissingToolError: ``mp-api`` is not installed.
    """
    systems = chemical_systems(elements, max_elements)
    key = api_key or os.environ.get("MP_API_KEY")
    if not key:
        raise MaterialsProjectError(
            "no Materials Project API key: set MP_API_KEY (from "
            "https://next-gen.materialsproject.org/dashboard) or use "
            "'rhocat structures generate' / 'import' instead"
        )
    try:
        from mp_api.client import MPRester
    except ImportError:
        raise MissingToolError(
            "the Materials Project client is not installed: pip install mp-api"
        ) from None
    try:
        with MPRester(key) as mpr:
            docs = mpr.materials.summary.search(
                chemsys=systems,
                energy_above_hull=(0.0, float(max_e_above_hull)),
                num_sites=(1, int(max_atoms)) if max_atoms else None,
                fields=MP_FIELDS,
            )
    except InputError:
        raise
    except Exception as exc:  # network errors, auth errors, API changes: all the user's to see
        raise MaterialsProjectError(
            f"Materials Project query failed ({type(exc).__name__}: {exc}); "
            "check the network connection and MP_API_KEY"
        ) from None
    return candidates_from_mp_docs(docs, max_atoms, max_volume, min_distance_ratio)
