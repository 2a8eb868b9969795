"""The pair term of the basis model's radial weights (``pair_features: n``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rhocat.errors import InputError
from rhocat.models.ensemble import EnsembleModel
from rhocat.models.equivariant import EquivariantBasisModel
from tests.models.shared import randomize

SMALL = {"hidden_muls": [8, 4, 2], "n_layers": 2, "basis": {"l_max": 2, "n_alpha": 3}}
PAIR = {**SMALL, "element_features": True, "pair_features": 4}
MODES = pytest.mark.parametrize("mode", ["gate", "radial"])


def _paired(mode: str) -> dict:
    return {**PAIR, "pair_mode": mode}


@MODES
def test_an_untrained_pair_term_leaves_the_model_unchanged(triclinic, coefficients, mode):
    numbers, positions, cell, _ = triclinic
    plain = randomize(EquivariantBasisModel({**PAIR, "pair_features": 0}, [6, 14]), 0)
    paired = EquivariantBasisModel(_paired(mode), [6, 14]).eval()
    missing = paired.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all("pair" in k for k in missing)
    ref = coefficients(plain, numbers, positions, cell)
    assert np.abs(ref).max() > 1e-3
    np.testing.assert_array_equal(coefficients(paired, numbers, positions, cell), ref)
    randomize(paired, 1, only="pair")  # a trained pair term does change the coefficients
    change = np.abs(coefficients(paired, numbers, positions, cell) - ref).max()
    assert change > 1e-9 * np.abs(ref).max()  # far above rounding (1e-16)


@MODES
def test_the_pair_term_keeps_the_model_equivariant(assert_equivariant, mode):
    assert_equivariant(randomize(EquivariantBasisModel(_paired(mode), [6, 14]), 2))


@MODES
def test_the_weights_vanish_at_the_cutoff_so_the_coefficients_are_continuous(coefficients, mode):
    m = randomize(EquivariantBasisModel(_paired(mode), [6, 14]), 3)
    cell = np.eye(3) * 30.0  # bohr: only the two atoms of the cell are within the cutoff
    numbers = np.array([6, 14])

    def pair_at(d):
        return coefficients(m, numbers, np.array([[0.0, 0.0, 0.0], [d, 0.0, 0.0]]), cell)

    def jump(eps):  # across the cutoff, from (1 - eps) to (1 + eps) times it
        return np.abs(pair_at(m.cutoff * (1 - eps)) - pair_at(m.cutoff * (1 + eps))).max()

    assert jump(0.7) > 1e-3  # the neighbour matters
    assert 0 < jump(1e-7) < 0.1 * jump(1e-5)  # shrinks with eps: no step at the cutoff


@MODES
def test_an_ensemble_of_paired_members_is_their_mean(triclinic, g_of, mode):
    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    members = [randomize(EquivariantBasisModel(_paired(mode), [6, 14]), s) for s in (4, 5)]
    expected = np.mean([m.delta_rho_g(numbers, positions, cell, g) for m in members], axis=0)
    pred = EnsembleModel.from_members(members, shrink_c=0.0).predict(numbers, positions, cell, g)
    np.testing.assert_allclose(pred.delta_rho_g, expected, atol=1e-12 * np.abs(expected).max())


def test_the_radial_pair_term_gives_each_element_pair_its_own_radial_shape():
    """In "gate" mode a pair only scales the weights, w(r) = R(r) (1 + P): the ratio of two
    pairs' weights is the same at every distance. In "radial" mode it is not."""

    def ratio(mode, r_bohr):
        m = randomize(EquivariantBasisModel(_paired(mode), [6, 14]), 6)
        conv = m.layers[0]
        with torch.no_grad():
            vec = torch.tensor([[r_bohr, 0.0, 0.0]], dtype=torch.float64)
            edge = torch.tensor([0]), torch.tensor([1])
            rbf, _ = m._edge_features(vec, torch.tensor([6, 14]), *edge)
            e_c, e_si = m._pair(torch.tensor([6])), m._pair(torch.tensor([14]))
            return (conv.edge_weights(rbf, e_c, e_si) / conv.edge_weights(rbf, e_c, e_c))[0]

    torch.testing.assert_close(ratio("gate", 3.0), ratio("gate", 5.0), rtol=1e-10, atol=0)
    assert (ratio("radial", 3.0) - ratio("radial", 5.0)).abs().max() > 1e-3


def test_an_unknown_pair_mode_is_refused():
    with pytest.raises(InputError, match="pair_mode"):
        EquivariantBasisModel({**PAIR, "pair_mode": "bilinear"}, [6, 14])
