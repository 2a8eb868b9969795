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
