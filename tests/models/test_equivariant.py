"""Exact symmetry properties of the default (basis) model, checked numerically."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rhocat.models.equivariant import EquivariantBasisModel

SMALL = {"hidden_muls": [8, 4, 2], "n_layers": 2, "basis": {"l_max": 4, "n_alpha": 3}}


def _rotation(a, b, c):
    """A proper rotation from ZYZ Euler angles (float64)."""

    def rz(t):
        return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])

    def ry(t):
        return np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])

    return rz(a) @ ry(b) @ rz(c)


def _random_model(seed=0):
    torch.manual_seed(seed)
    m = EquivariantBasisModel(SMALL, [6, 14])
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.5)
    return m


def test_rotation_and_inversion_rotate_the_density(triclinic, g_of):
    numbers, pos, cell, miller = triclinic
    m = _random_model()
    ref = m.delta_rho_g(numbers, pos, cell, g_of(cell, miller))
    assert np.abs(ref).max() > 1e-4
    for improper in (False, True):
        rot = _rotation(0.7, -1.1, 2.3)
        if improper:
            rot = -rot
        cell_r, pos_r = cell @ rot.T, pos @ rot.T  # same Miller indices -> rotated G vectors
        got = m.delta_rho_g(numbers, pos_r, cell_r, g_of(cell_r, miller))
        np.testing.assert_allclose(got, ref, atol=1e-10 * np.abs(ref).max() + 1e-13)


def test_translation_multiplies_by_a_phase(triclinic, g_of):
    numbers, pos, cell, miller = triclinic
    m = _random_model(1)
    g = g_of(cell, miller)
    t = np.array([1.3, -0.7, 2.9])
    ref = m.delta_rho_g(numbers, pos, cell, g)
    got = m.delta_rho_g(numbers, pos + t, cell, g)
    np.testing.assert_allclose(got, ref * np.exp(-1j * g @ t), atol=1e-12)
    # a lattice translation of one atom changes nothing
    shifted = pos.copy()
    shifted[1] += cell[0] - cell[2]
    np.testing.assert_allclose(m.delta_rho_g(numbers, shifted, cell, g), ref, atol=1e-12)


def test_permutation_changes_nothing(triclinic, g_of):
    numbers, pos, cell, miller = triclinic
    m = _random_model(2)
    g = g_of(cell, miller)
    perm = np.array([2, 0, 1])
    np.testing.assert_allclose(
        m.delta_rho_g(numbers[perm], pos[perm], cell, g),
        m.delta_rho_g(numbers, pos, cell, g),
        atol=1e-13,
    )


def test_untrained_model_reproduces_acs_and_charge_is_conserved(triclinic, g_of):
    numbers, pos, cell, miller = triclinic
    g = g_of(cell, miller)
    fresh = EquivariantBasisModel(SMALL, [6, 14])  # output layer starts at 0, no baseline
    assert np.all(fresh.delta_rho_g(numbers, pos, cell, g) == 0)
    m = _random_model(4)
    d = m.delta_rho_g(numbers, pos, cell, g)
    g0 = np.all(miller == 0, axis=1)
    assert d[g0][0] == 0  # exactly: Δρ integrates to zero
    assert np.abs(d[~g0]).max() > 1e-4


def test_density_is_real_in_real_space(triclinic, g_of):
    numbers, pos, cell, miller = triclinic
    m = _random_model(5)
    g = g_of(cell, miller)
    d = m.delta_rho_g(numbers, pos, cell, g)
    d_minus = m.delta_rho_g(numbers, pos, cell, -g)
    np.testing.assert_allclose(d_minus, np.conj(d), atol=1e-13)


@pytest.mark.parametrize("symbols", [["Si", "C"], [14, 6]])
def test_check_elements(symbols):
    from rhocat.errors import ModelError

    m = EquivariantBasisModel(SMALL, [6, 14])
    m.check_elements(symbols)
    with pytest.raises(ModelError, match="never saw element"):
        m.check_elements(["Si", "Ge"])
    with pytest.warns(UserWarning, match="Ge"):
        m.check_elements(["Ge"], allow_unseen=True)
