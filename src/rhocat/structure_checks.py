"""Physical sanity of a bulk structure, checked before pw.x, the ACS or a model see it.

- the cell must be 3-D and not degenerate: every spacing between opposite faces
  (volume / face area) at least :data:`MIN_CELL_HEIGHT_A` (coplanar vectors give a
  singular cell; a nearly flat one an endless neighbour search and FFT grid);
- no two atoms closer than ``min_distance_ratio`` × the sum of their covalent
  radii (ASE's table, Å): atoms 0.1 Å apart "converge" in pw.x at +127 Ry.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from rhocat.errors import InputError

#: Smallest spacing (Å) between opposite faces of a cell that rhocat accepts.
MIN_CELL_HEIGHT_A = 0.5
#: Default: atoms closer than this share of the sum of their covalent radii are refused.
MIN_DISTANCE_RATIO = 0.5


def cell_heights(cell: np.ndarray) -> np.ndarray:
    """(3,) spacings (Å) between the opposite faces of a cell (rows, Å)."""
    cell = np.asarray(cell, dtype=np.float64)
    volume = abs(float(np.linalg.det(cell)))
    areas = np.array(
        [np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(areas > 0, volume / np.where(areas > 0, areas, 1.0), 0.0)


def check_cell(atoms: Atoms) -> None:
    """Refuse an empty, non-periodic or degenerate cell (one line, :class:`InputError`)."""
    if len(atoms) == 0:
        raise InputError("the structure has no atoms")
    if not all(atoms.pbc):
        raise InputError("rhocat works on bulk crystals: the structure must be periodic in 3-D")
    cell = atoms.cell.array
    if not np.all(np.isfinite(cell)) or not np.all(np.isfinite(atoms.positions)):
        raise InputError("the structure has a non-finite cell vector or position")
    heights = cell_heights(cell)
    if heights.min() < MIN_CELL_HEIGHT_A:
        axis = "abc"[int(np.argmin(heights))]
        raise InputError(
            f"degenerate cell: its faces across {axis} are {heights.min():.3g} Å apart "
            f"(< {MIN_CELL_HEIGHT_A} Å; coplanar or nearly coplanar cell vectors)"
        )


def closest_pair(atoms: Atoms) -> tuple[int, int, float, float] | None:
    """(i, j, distance Å, distance / sum of covalent radii) of the pair with the smallest
    ratio, periodic images included; None for a single atom far from its images."""
    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list

    radii = covalent_radii[atoms.numbers]
    cutoff = float(2.0 * radii.max()) + 1e-6
    i, j, d = neighbor_list("ijd", atoms, cutoff, self_interaction=False)
    if len(d) == 0:
        return None
    ratio = d / (radii[i] + radii[j])
    k = int(np.argmin(ratio))
    return int(i[k]), int(j[k]), float(d[k]), float(ratio[k])


def check_distances(atoms: Atoms, min_distance_ratio: float = MIN_DISTANCE_RATIO) -> None:
    """Refuse atoms closer than ``min_distance_ratio`` × the sum of their covalent radii.

    ``min_distance_ratio = 0`` turns the check off (the CLI's ``--allow-close-atoms``).
    """
    if min_distance_ratio <= 0:
        return
    pair = closest_pair(atoms)
    if pair is None or pair[3] >= min_distance_ratio:
        return
    i, j, d, ratio = pair
    s = atoms.get_chemical_symbols()
    from ase.data import covalent_radii

    rsum = covalent_radii[atoms.numbers[i]] + covalent_radii[atoms.numbers[j]]
    raise InputError(
        f"atoms {i} ({s[i]}) and {j} ({s[j]}) are {d:.3g} Å apart, below "
        f"{min_distance_ratio:g} x {rsum:.2f} Å (their covalent radii): not a physical "
        "structure (--allow-close-atoms to run it anyway)"
    )


def check_bulk(atoms: Atoms, min_distance_ratio: float = MIN_DISTANCE_RATIO) -> None:
    """:func:`check_cell` then :func:`check_distances`."""
    check_cell(atoms)
    check_distances(atoms, min_distance_ratio)
