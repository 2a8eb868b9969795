"""The radial basis in units of the covalent radii (``scaled_distance_range: X``)."""

from __future__ import annotations

import math

import numpy as np
import torch
from ase.data import covalent_radii

from rhocat.models.ensemble import EnsembleModel
from rhocat.models.equivariant import EquivariantBasisModel, scaled_distance_basis
from rhocat.train.checkpoint import checkpoint_dict, model_from_checkpoint
from rhocat.units import BOHR_PER_ANGSTROM
from tests.models.shared import randomize

SMALL = {"hidden_muls": [8, 4, 2], "n_layers": 2, "basis": {"l_max": 2, "n_alpha": 3}}
SCALED = {**SMALL, "element_features": True, "pair_features": 4, "pair_mode": "radial",
          "scaled_distance_range": 4.0}  # fmt: skip
CUTOFF = 4.5 * BOHR_PER_ANGSTROM


def _radius(z: int) -> float:
    return float(covalent_radii[z]) * BOHR_PER_ANGSTROM


def test_bonds_of_equal_relative_length_share_their_basis_up_to_the_envelope():
    """x = r / (R_i + R_j): C–C at r and Si–Si at r (R_Si / R_C) give the same Bessel
    values, each times its own cosine envelope of r."""
    r_cc = torch.tensor([2.0, 3.0, 4.0], dtype=torch.float64)
    r_sisi = r_cc * _radius(14) / _radius(6)
    sum_cc = torch.full_like(r_cc, 2 * _radius(6))
    sum_sisi = torch.full_like(r_cc, 2 * _radius(14))
    b_cc = scaled_distance_basis(r_cc, sum_cc, CUTOFF, 6, 4.0)
    b_sisi = scaled_distance_basis(r_sisi, sum_sisi, CUTOFF, 6, 4.0)

    def envelope(r):
        return 0.5 * (1 + torch.cos(math.pi * r / CUTOFF))

    assert b_cc.abs().min() > 0  # every function is alive at these lengths
    torch.testing.assert_close(
        b_cc / envelope(r_cc)[:, None], b_sisi / envelope(r_sisi)[:, None], rtol=1e-12, atol=0
    )
    assert (b_cc - b_sisi).abs().max() > 1e-2  # the absolute lengths still differ


def test_the_scaled_basis_vanishes_at_the_cutoff_and_beyond_its_range():
    sums = torch.full((4,), 2 * _radius(6), dtype=torch.float64)
    r = torch.tensor([0.5, 0.999999, 1.0, 1.2], dtype=torch.float64) * CUTOFF
    b = scaled_distance_basis(r, sums, CUTOFF, 6, 4.0)
    assert b[0].abs().max() > 0.1
    assert b[1].abs().max() < 1e-9 * b[0].abs().max()
    assert b[2:].abs().max() == 0
    far = scaled_distance_basis(torch.tensor([3.0]), torch.tensor([0.5]), CUTOFF, 6, 4.0)
    assert far.abs().max() == 0  # x = 6 lies beyond X = 4


def test_the_scaled_basis_keeps_the_model_equivariant(assert_equivariant):
    assert_equivariant(randomize(EquivariantBasisModel(SCALED, [6, 14]), 2))


def test_the_coefficients_are_continuous_at_the_cutoff(coefficients):
    """C–Si at the cutoff lies at x ≈ 3.7 < X = 4, where the Bessel functions are not zero:
    only the envelope keeps the weights from jumping there."""
    m = randomize(EquivariantBasisModel(SCALED, [6, 14]), 3)
    assert CUTOFF / (_radius(6) + _radius(14)) < SCALED["scaled_distance_range"]
    cell = np.eye(3) * 30.0  # bohr: only the two atoms of the cell are within the cutoff
    numbers = np.array([6, 14])

    def pair_at(d):
        return coefficients(m, numbers, np.array([[0.0, 0.0, 0.0], [d, 0.0, 0.0]]), cell)

    def jump(eps):
        return np.abs(pair_at(m.cutoff * (1 - eps)) - pair_at(m.cutoff * (1 + eps))).max()

    assert jump(0.7) > 1e-3
    assert 0 < jump(1e-7) < 0.1 * jump(1e-5)


def test_the_scaled_basis_changes_the_prediction(triclinic, coefficients):
    numbers, positions, cell, _ = triclinic
    on = randomize(EquivariantBasisModel(SCALED, [6, 14]), 4)
    off = EquivariantBasisModel({**SCALED, "scaled_distance_range": 0.0}, [6, 14]).eval()
    assert "radii_bohr" not in off.state_dict()  # checkpoints without it load as before
    state = {k: v for k, v in on.state_dict().items() if k in off.state_dict()}
    shapes_differ = [k for k, v in state.items() if v.shape != off.state_dict()[k].shape]
    assert shapes_differ and all("fc" in k or "pair_radial" in k for k in shapes_differ)
    ref = coefficients(on, numbers, positions, cell)
    with torch.no_grad():
        on.radii_bohr.mul_(1.3)  # other radii, other relative lengths
    assert np.abs(coefficients(on, numbers, positions, cell) - ref).max() > 1e-6


def test_a_checkpoint_and_an_ensemble_keep_the_scaled_basis(triclinic, g_of):
    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    members = [randomize(EquivariantBasisModel(SCALED, [6, 14]), s) for s in (5, 6)]
    back = model_from_checkpoint(checkpoint_dict(members[0]))
    assert back.config["scaled_distance_range"] == 4.0
    ref = members[0].delta_rho_g(numbers, positions, cell, g)
    np.testing.assert_array_equal(back.delta_rho_g(numbers, positions, cell, g), ref)
    expected = np.mean([m.delta_rho_g(numbers, positions, cell, g) for m in members], axis=0)
    pred = EnsembleModel.from_members(members, shrink_c=0.0).predict(numbers, positions, cell, g)
    np.testing.assert_allclose(pred.delta_rho_g, expected, atol=1e-12 * np.abs(expected).max())
