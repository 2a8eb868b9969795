"""The radial floor model: a closed-form ridge fit that recovers a known correction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rhocat.models.radial import RadialModel, hartree_weights


@dataclass
class _Sample:
    numbers: np.ndarray
    positions_bohr: np.ndarray
    cell_bohr: np.ndarray
    g_cart: np.ndarray
    delta_rho_g: np.ndarray

    @property
    def volume_bohr3(self):
        return abs(np.linalg.det(self.cell_bohr))


def _truth(elements):
    m = RadialModel({"ridge_lambda": 0.0}, elements)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for z in elements:
            m.table[z] = torch.as_tensor(rng.normal(size=m.spec.n_alpha) * 0.05)
    return m


def test_fit_recovers_a_radial_correction(triclinic, g_of):
    numbers, pos, cell, miller = triclinic
    truth = _truth([6, 14])
    samples = []
    for scale in (1.0, 0.93, 1.08):  # strained cells move the |G| shells
        c = cell * scale
        g = g_of(c, miller)
        samples.append(
            _Sample(numbers, pos * scale, c, g, truth.delta_rho_g(numbers, pos * scale, c, g))
        )
    fit = RadialModel({"ridge_lambda": 1e-10}, [6, 14])
    fit.fit(samples)
    np.testing.assert_allclose(
        fit.table[[6, 14]].numpy(), truth.table[[6, 14]].numpy(), rtol=1e-5, atol=1e-7
    )
    # unseen strain: still exact, and the G = 0 term is exactly zero
    c = cell * 1.03
    g = g_of(c, miller)
    pred = fit.delta_rho_g(numbers, pos * 1.03, c, g)
    np.testing.assert_allclose(pred, truth.delta_rho_g(numbers, pos * 1.03, c, g), atol=1e-9)
    assert pred[np.all(miller == 0, axis=1)][0] == 0


def test_strong_ridge_shrinks_towards_zero(triclinic, g_of):
    numbers, pos, cell, miller = triclinic
    truth = _truth([6, 14])
    g = g_of(cell, miller)
    s = _Sample(numbers, pos, cell, g, truth.delta_rho_g(numbers, pos, cell, g))
    norms = []
    for lam in (1e-3, 10.0, 1e4):
        m = RadialModel({"ridge_lambda": lam}, [6, 14])
        m.fit([s])
        norms.append(float(m.table.norm()))
    assert norms[0] > norms[1] > norms[2] > 0


def test_hartree_weights():
    g = np.array([[0.0, 0, 0], [1.0, 0, 0], [0, 2.0, 0]])
    w = hartree_weights(g, 100.0, 2)
    assert w[0] == 0
    np.testing.assert_allclose(w[1:], [4 * np.pi * 100 / 2, 4 * np.pi * 100 / 8])


def test_fit_uses_only_each_samples_elements_and_matches_the_dense_normal_equations(
    triclinic, g_of
):
    """Samples holding a subset of the elements: the block-wise fit is the dense one."""
    from rhocat.models.basis import per_element_design
    from rhocat.models.radial import fit_radial_table

    numbers, pos, cell, miller = triclinic
    elements = [1, 6, 8, 14]  # H and O appear in no sample: their rows stay ridge-only
    rng = np.random.default_rng(3)
    samples = []
    for scale, species in ((1.0, (6, 14)), (0.95, (6, 6)), (1.05, (14, 14))):
        c = cell * scale
        nums = np.array([species[i % 2] for i in range(len(numbers))])
        g = g_of(c, miller)
        delta = rng.normal(size=len(g)) + 1j * rng.normal(size=len(g))
        delta[np.all(miller == 0, axis=1)] = 0.0
        samples.append(_Sample(nums, pos * scale, c, g, delta * 1e-3))
    spec = RadialModel({}, elements).spec
    got = fit_radial_table(samples, spec, elements, ridge_lambda=2.0)
    nc = len(elements) * spec.n_alpha
    mat, vec = np.zeros((nc, nc)), np.zeros(nc)
    for s in samples:  # the textbook form: every column, one complex product
        d = per_element_design(spec, s.numbers, elements, s.positions_bohr, s.g_cart,
                               s.volume_bohr3)  # fmt: skip
        dw = d * hartree_weights(s.g_cart, s.volume_bohr3, len(s.numbers))[:, None]
        mat += np.real(dw.conj().T @ d)
        vec += np.real(dw.conj().T @ s.delta_rho_g)
    scale = np.diag(mat)[np.diag(mat) > 0].mean()
    want = np.linalg.solve(mat + 2.0 * scale * np.eye(nc), vec).reshape(len(elements), -1)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    assert np.all(got[[0, 2]] == 0.0) and np.abs(got[[1, 3]]).max() > 0.0


def test_element_ridge_scale_keeps_an_elements_fit_to_its_own_data(triclinic, g_of):
    """Structures of one element change another element's fit under the global ridge scale,
    not under the per-element one (the structures share no element)."""
    from rhocat.models.radial import fit_radial_table

    numbers, pos, cell, miller = triclinic
    rng = np.random.default_rng(5)

    def unary(z, scale, amplitude):
        c = cell * scale
        g = g_of(c, miller)
        delta = (rng.normal(size=len(g)) + 1j * rng.normal(size=len(g))) * amplitude
        delta[np.all(miller == 0, axis=1)] = 0.0
        return _Sample(np.full(len(numbers), z), pos * scale, c, g, delta)

    silicon = [unary(14, s, 1e-3) for s in (0.97, 1.0, 1.03)]
    # many dense carbon cells: a large carbon block on the normal matrix's diagonal
    carbon = [unary(6, s, 1e-2) for s in np.linspace(0.6, 0.8, 8)]
    spec = RadialModel({}, [6, 14]).spec
    fits = {}
    for ridge_scale in ("global", "element"):
        alone = fit_radial_table(silicon, spec, [6, 14], 10.0, ridge_scale)[1]
        both = fit_radial_table(silicon + carbon, spec, [6, 14], 10.0, ridge_scale)[1]
        fits[ridge_scale] = np.abs(both - alone).max() / np.abs(alone).max()
    assert fits["element"] < 1e-12
    assert fits["global"] > 1e-3


def test_unknown_ridge_scale_is_refused():
    import pytest

    from rhocat.models.radial import fit_radial_table

    spec = RadialModel({}, [14]).spec
    with pytest.raises(ValueError, match="ridge_scale"):
        fit_radial_table([], spec, [14], 10.0, "per-atom")


def _strained_samples(triclinic, g_of, truth, scales):
    numbers, pos, cell, miller = triclinic
    out = []
    for scale in scales:
        c = cell * scale
        g = g_of(c, miller)
        out.append(
            _Sample(numbers, pos * scale, c, g, truth.delta_rho_g(numbers, pos * scale, c, g))
        )
    return out


def test_lambda_chosen_on_validation_follows_what_validation_rewards(triclinic, g_of):
    """'validation': a val set with the training data's correction picks the weakest ridge
    of the grid; a val set whose Δρ is zero (any correction hurts) picks the strongest."""
    from rhocat.models.radial import RIDGE_GRID, fit_radial_table

    truth = _truth([6, 14])
    train = _strained_samples(triclinic, g_of, truth, (1.0, 0.93, 1.08))
    val = _strained_samples(triclinic, g_of, truth, (1.03,))
    fit = RadialModel({"ridge_lambda": "validation"}, [6, 14])
    fit.fit(train, val)
    assert fit.config["ridge_lambda"] == min(RIDGE_GRID)
    assert set(fit.ridge_curve) == set(RIDGE_GRID)
    assert fit.ridge_curve[min(RIDGE_GRID)] > 99.9 > fit.ridge_curve[max(RIDGE_GRID)]
    want = fit_radial_table(train, fit.spec, [6, 14], min(RIDGE_GRID))
    np.testing.assert_allclose(fit.table[[6, 14]].numpy(), want, rtol=1e-12, atol=1e-15)
    zero = [_Sample(s.numbers, s.positions_bohr, s.cell_bohr, s.g_cart, 0 * s.delta_rho_g + 1e-9)
            for s in val]  # fmt: skip
    damped = RadialModel({"ridge_lambda": "validation"}, [6, 14])
    damped.fit(train, zero)
    assert damped.config["ridge_lambda"] == max(RIDGE_GRID)


def test_lambda_without_validation_data_is_the_default_and_bad_values_are_refused(triclinic, g_of):
    import pytest

    from rhocat.errors import ModelError
    from rhocat.models.radial import DEFAULT_RIDGE

    truth = _truth([6, 14])
    fit = RadialModel({"ridge_lambda": "validation"}, [6, 14])
    fit.fit(_strained_samples(triclinic, g_of, truth, (1.0,)))
    assert fit.config["ridge_lambda"] == DEFAULT_RIDGE and fit.ridge_curve == {}
    for bad in ("auto", -1.0, None):
        with pytest.raises(ModelError, match="ridge_lambda"):
            RadialModel({"ridge_lambda": bad}, [6, 14])
