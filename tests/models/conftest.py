"""Small structures shared by the model tests (lengths in bohr)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rhocat.qe.gvectors import g_cartesian


@pytest.fixture
def triclinic():
    """Three atoms of two elements in a low-symmetry cell, and a G list around the origin."""
    cell = np.array([[6.0, 0.3, 0.1], [0.8, 5.5, -0.2], [0.4, 0.6, 6.4]])
    numbers = np.array([14, 6, 14])
    positions = np.array([[0.2, 0.1, 0.3], [2.1, 1.8, 1.2], [3.9, 3.1, 4.2]])
    miller = np.array(list(itertools.product(range(-5, 6), repeat=3)))
    return numbers, positions, cell, miller


@pytest.fixture
def g_of():
    """Cartesian G vectors (1/bohr) of Miller indices in a cell: ``g_of(cell, miller)``."""
    return g_cartesian


@pytest.fixture
def coefficients():
    """A basis model's coefficients, no gradients, as numpy: ``coefficients(model, numbers,
    positions_bohr, cell_bohr)`` -> (n_atoms, spec.size)."""
    import torch

    def of(model, numbers, positions, cell):
        with torch.no_grad():
            graph = model.graph(positions, cell)
            return model.coefficients(torch.as_tensor(numbers), graph).numpy()

    return of


@pytest.fixture
def assert_equivariant(triclinic, g_of):
    """``assert_equivariant(model)``: the model's Δρ(G) on the triclinic cell follows a
    rotation, a rotation with the inversion, and a permutation of the atoms."""

    def check(model):
        numbers, positions, cell, miller = triclinic
        ref = model.delta_rho_g(numbers, positions, cell, g_of(cell, miller))
        angle = 0.9
        rot = np.array(
            [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
        )
        for r in (rot, -rot):  # a rotation, and one with the inversion
            cell_r, pos_r = cell @ r.T, positions @ r.T
            got = model.delta_rho_g(numbers, pos_r, cell_r, g_of(cell_r, miller))
            np.testing.assert_allclose(got, ref, atol=1e-10 * np.abs(ref).max())
        perm = np.array([1, 2, 0])
        got = model.delta_rho_g(numbers[perm], positions[perm], cell, g_of(cell, miller))
        np.testing.assert_allclose(got, ref, atol=1e-12 * np.abs(ref).max())

    return check
