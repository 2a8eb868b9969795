"""Filters of the paper (section 3.2) and a sanity check on interatomic distances.

- at most ``max_atoms`` atoms in the cell (12 in the paper);
- conventional-cell volume at most ``max_volume`` Å³ (200 in the paper), the
  conventional cell being spglib's standardized cell;
- no two atoms closer than ``min_ratio`` times the sum of their radii;
- drop candidates whose oxidation states occur in only one candidate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from rhocat.structures.candidate import Candidate
from rhocat.structures.elements import radius

#: Default fraction of the sum of radii below which two atoms are "too close".
MIN_DISTANCE_RATIO = 0.85
#: Paper's limits.
MAX_ATOMS = 12
MAX_VOLUME_A3 = 200.0


def conventional_volume(atoms: Atoms, symprec: float = 1e-3) -> float:
    """Volume in Å³ of spglib's standardized conventional cell of ``atoms``."""
    import spglib

    cell = (np.asarray(atoms.cell), atoms.get_scaled_positions(), atoms.numbers)
    std = spglib.standardize_cell(cell, to_primitive=False, no_idealize=False, symprec=symprec)
    if std is None:  # no symmetry found: the cell is its own conventional cell
        return float(atoms.get_volume())
    return float(abs(np.linalg.det(np.asarray(std[0]))))


def space_group_number(atoms: Atoms, symprec: float = 1e-3) -> int:
    """International space-group number found by spglib (1 if none)."""
    import spglib

    cell = (np.asarray(atoms.cell), atoms.get_scaled_positions(), atoms.numbers)
    ds = spglib.get_symmetry_dataset(cell, symprec=symprec)
    return int(ds.number) if ds is not None else 1


def too_close(atoms: Atoms, min_ratio: float = MIN_DISTANCE_RATIO) -> str | None:
    """Return a message naming the closest offending pair, or None if all pairs are fine.

    A pair (i, j) is too close when its distance (Å) is below ``min_ratio`` times
    ``radius(i) + radius(j)``.
    """
    symbols = atoms.get_chemical_symbols()
    radii = np.array([radius(s) for s in symbols])
    cutoff = float(2.0 * radii.max() * max(min_ratio, 0.0)) + 1e-6
    i, j, d = neighbor_list("ijd", atoms, cutoff, self_interaction=False)
    if len(d) == 0:
        return None
    ratio = d / (radii[i] + radii[j])
    k = int(np.argmin(ratio))
    if ratio[k] >= min_ratio:
        return None
    return (
        f"atoms too close: {symbols[i[k]]}-{symbols[j[k]]} at {d[k]:.2f} Å "
        f"< {min_ratio:g} x {radii[i[k]] + radii[j[k]]:.2f} Å (sum of radii)"
    )


def size_problem(
    atoms: Atoms,
    max_atoms: int | None,
    max_volume: float | None,
    conv_volume: float | None = None,
) -> str | None:
    """Reason why a cell breaks the paper's size limits, or None.

    ``conv_volume`` (Å³) saves the spglib call when the conventional volume is known.
    """
    if max_atoms is not None and len(atoms) > max_atoms:
        return f"{len(atoms)} atoms > max_atoms={max_atoms}"
    if max_volume is not None:
        vol = conventional_volume(atoms) if conv_volume is None else conv_volume
        if vol > max_volume + 1e-9:
            return f"conventional cell {vol:.1f} Å³ > max_volume={max_volume:g} Å³"
    return None


def rare_oxidation_states(
    candidates: Sequence[Candidate],
) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """Drop candidates with an oxidation state that occurs in only one candidate.

    One pass over the set, as in the paper. Returns (kept, [(dropped, reason)]).
    """
    counts = Counter(s for c in candidates for s in set(c.species))
    kept: list[Candidate] = []
    dropped: list[tuple[Candidate, str]] = []
    for c in candidates:
        rare = sorted(s for s in set(c.species) if counts[s] <= 1)
        if rare:
            dropped.append(
                (c, f"oxidation state {', '.join(rare)} occurs only once in the candidate set")
            )
        else:
            kept.append(c)
    return kept, dropped
