"""The three-body term of the basis model's hidden layers (``three_body_muls``)."""

from __future__ import annotations

import numpy as np
import torch
from e3nn import o3

from rhocat.models.ensemble import EnsembleModel
from rhocat.models.equivariant import EquivariantBasisModel, ThreeBody
from rhocat.train.checkpoint import checkpoint_dict, load_model, save_checkpoint
from tests.models.shared import randomize

SMALL = {"hidden_muls": [8, 4, 2], "n_layers": 2, "basis": {"l_max": 2, "n_alpha": 3}}
THREE = {**SMALL, "element_features": True, "three_body_muls": [4, 2, 1]}
IRREPS = o3.Irreps("8x0e + 4x1o + 2x2e")


def test_an_untrained_three_body_term_leaves_the_model_unchanged(triclinic, coefficients):
    numbers, positions, cell, _ = triclinic
    plain = randomize(EquivariantBasisModel({**THREE, "three_body_muls": []}, [6, 14]), 0)
    three = EquivariantBasisModel(THREE, [6, 14]).eval()
    missing = three.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("three_body.") for k in missing)
    ref = coefficients(plain, numbers, positions, cell)
    assert np.abs(ref).max() > 1e-3
    np.testing.assert_array_equal(coefficients(three, numbers, positions, cell), ref)
    randomize(three, 1, only="three_body")  # a trained term does change the coefficients
    change = np.abs(coefficients(three, numbers, positions, cell) - ref).max()
    assert change > 1e-6 * np.abs(ref).max()


def test_the_term_sums_over_pairs_of_neighbours():
    """Messages add up one neighbour at a time; the term is quadratic in them, so two
    neighbours together give more than the sum of each alone: the cross terms j ≠ k."""
    torch.manual_seed(7)
    term = randomize(ThreeBody(IRREPS, [4, 2, 1]), 8)
    m_j, m_k = IRREPS.randn(1, -1, dtype=torch.float64), IRREPS.randn(1, -1, dtype=torch.float64)
    term = term.double()
    with torch.no_grad():
        t_j, t_k, t_jk = term(m_j), term(m_k), term(m_j + m_k)
        torch.testing.assert_close(term(2.0 * m_j), 4.0 * t_j)  # a square
        cross = t_jk - t_j - t_k
    assert cross.abs().max() > 1e-3 * t_jk.abs().max()


def test_the_term_is_equivariant():
    term = randomize(ThreeBody(IRREPS, [4, 2, 1]), 9).double()
    m = IRREPS.randn(5, -1, dtype=torch.float64)
    for r in (o3.rand_matrix(dtype=torch.float64), -o3.rand_matrix(dtype=torch.float64)):
        d = IRREPS.D_from_matrix(r)
        with torch.no_grad():
            torch.testing.assert_close(term(m @ d.T), term(m) @ d.T)


def test_the_model_with_the_term_stays_equivariant(assert_equivariant):
    assert_equivariant(randomize(EquivariantBasisModel(THREE, [6, 14]), 2))


def test_an_ensemble_of_members_with_the_term_is_their_mean(triclinic, g_of):
    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    members = [randomize(EquivariantBasisModel(THREE, [6, 14]), s) for s in (4, 5)]
    expected = np.mean([m.delta_rho_g(numbers, positions, cell, g) for m in members], axis=0)
    pred = EnsembleModel.from_members(members, shrink_c=0.0).predict(numbers, positions, cell, g)
    np.testing.assert_allclose(pred.delta_rho_g, expected, atol=1e-12 * np.abs(expected).max())


def test_a_checkpoint_keeps_the_term(tmp_path, triclinic, g_of):
    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    model = randomize(EquivariantBasisModel(THREE, [6, 14]), 10)
    save_checkpoint(tmp_path / "m.pt", checkpoint_dict(model, {}))
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.config["three_body_muls"] == [4, 2, 1]
    np.testing.assert_array_equal(
        loaded.delta_rho_g(numbers, positions, cell, g),
        model.delta_rho_g(numbers, positions, cell, g),
    )
