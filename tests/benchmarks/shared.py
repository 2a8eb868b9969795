"""What the benchmark tests share: the repository's benchmark dataset, the shipped model,
and ``benchmarks/`` on the import path (the benchmark scripts are modules there)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
DATASET = BENCHMARKS / "dataset" / "dataset"
MODEL = ROOT / "src" / "rhocat" / "pretrained" / "default.pt"

#: Skip a test that needs the benchmark dataset and the shipped model when this tree lacks them.
needs_dataset = pytest.mark.skipif(
    not (DATASET.is_dir() and MODEL.is_file()), reason="no benchmark dataset in this tree"
)

if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))


def predict_on_random_g(model, atoms, shrink_c: float | None = None):
    """An ensemble's prediction for the ASE ``atoms`` (Å) on 64 fixed random G vectors
    (1/bohr), at the ensemble's own shrinkage or at ``shrink_c``."""
    import numpy as np

    from rhocat.units import BOHR_PER_ANGSTROM

    g = np.random.default_rng(0).normal(scale=1.5, size=(64, 3))
    return model.predict(
        atoms.numbers,
        atoms.positions * BOHR_PER_ANGSTROM,
        np.asarray(atoms.cell) * BOHR_PER_ANGSTROM,
        g,
        shrink_c,
    )


def two_atom_cell():
    """An fcc cell (a = 8.2 bohr) with two atoms and no inversion centre, and its Miller
    indices at a 40 Ry cutoff: ``(cell_bohr, positions_bohr, miller)``."""
    import numpy as np

    from rhocat.qe.gvectors import miller_indices

    cell = np.array([[0.0, 4.1, 4.1], [4.1, 0.0, 4.1], [4.1, 4.1, 0.0]])
    pos = np.array([[0.0, 0.0, 0.0], [2.1, 1.9, 2.05]])
    return cell, pos, miller_indices(cell, 40.0)


def sample_with_delta(delta_g, cell, pos, miller, numbers):
    """A :class:`DensitySample` of atoms ``numbers`` whose Δρ(G) is ``delta_g`` (e/bohr³;
    ρ_ACS = 0 off G = 0), on :func:`two_atom_cell`'s 40 Ry grid."""
    import numpy as np

    from rhocat.data.sample import DensitySample
    from rhocat.qe.gvectors import fft_grid_shape

    acs = np.zeros(len(miller), complex)
    return DensitySample("x", np.asarray(numbers), pos, cell, miller, delta_g[None], acs,
                         fft_grid_shape(cell, 40.0))  # fmt: skip


def small_spec():
    """A small basis (l ≤ 2, 3 exponents from 0.4 bohr⁻², ratio 2) for fits on
    :func:`two_atom_cell` that run in milliseconds."""
    from rhocat.models.basis import BasisSpec

    return BasisSpec(l_max=2, n_alpha=3, alpha_min=0.4, ratio=2.0)
