"""benchmarks/basis_oracle.py: the least-squares ceiling of an atom-centred basis."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rhocat.data.sample import DensitySample
from rhocat.models.basis import evaluate_g
from rhocat.qe.gvectors import g_cartesian
from tests.benchmarks.shared import sample_with_delta, small_spec, two_atom_cell

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from basis_oracle import oracle_capture  # noqa: E402

SPEC = small_spec()


def _sample(delta_g: np.ndarray, cell, pos, miller) -> DensitySample:
    """A Si–C sample whose Δρ(G) is ``delta_g``."""
    return sample_with_delta(delta_g, cell, pos, miller, [14, 6])


def _in_basis(cell, pos, miller, seed: int) -> np.ndarray:
    coeffs = torch.as_tensor(np.random.default_rng(seed).normal(size=(2, SPEC.size)))
    g = torch.as_tensor(g_cartesian(cell, miller))
    vol = abs(np.linalg.det(cell))
    return evaluate_g(SPEC, coeffs, torch.as_tensor(pos), g, vol).numpy()


def test_a_density_in_the_basis_is_captured_whole():
    cell, pos, miller = two_atom_cell()
    delta = _in_basis(cell, pos, miller, seed=0)
    assert oracle_capture(_sample(delta, cell, pos, miller), SPEC) == pytest.approx(100.0, abs=1e-6)


def test_a_density_partly_outside_the_basis_is_captured_in_part():
    """A plane wave outside the span keeps the fit below 100%; what lies in the span is found."""
    cell, pos, miller = two_atom_cell()
    delta = _in_basis(cell, pos, miller, seed=1)
    g = g_cartesian(cell, miller)
    # the shortest G ≠ 0; a stable sort keeps ties in index order on every CPU (the default
    # sort orders ties by the CPU's SIMD path, and the noise below lands on other G)
    shell = np.argsort((g**2).sum(axis=1), kind="stable")[1:15]
    noise = np.zeros_like(delta)
    rng = np.random.default_rng(2)
    noise[shell] = np.abs(delta[shell]).mean() * (rng.normal(size=14) + 1j * rng.normal(size=14))
    cap = oracle_capture(_sample(delta + noise, cell, pos, miller), SPEC)
    assert 0.0 < cap < 99.0
    assert oracle_capture(_sample(noise, cell, pos, miller), SPEC) < cap
