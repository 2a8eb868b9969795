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
