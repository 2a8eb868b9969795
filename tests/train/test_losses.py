"""The G-space losses against the metrics they stand for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rhocat.train import train_model
from rhocat.train.metrics import density_metrics, loss_g


def _tensors(sample, pred: np.ndarray):
    g = torch.as_tensor(np.asarray(sample.g_cart))
    volume = abs(float(np.linalg.det(np.asarray(sample.cell_bohr))))
    return torch.as_tensor(pred), torch.as_tensor(np.asarray(sample.delta_rho_g)), g, volume


def test_relative_hartree_loss_is_the_share_not_captured(real_samples):
    sample = real_samples[3]
    rng = np.random.default_rng(0)
    target = np.asarray(sample.delta_rho_g)
    noise = rng.normal(size=target.shape) + 1j * rng.normal(size=target.shape)
    pred = 0.8 * target + 0.05 * np.abs(target).mean() * noise
    pred[np.all(np.asarray(sample.miller) == 0, axis=1)] = 0.0  # charge kept
    p, t, g, volume = _tensors(sample, pred)
    rel = float(loss_g("hartree_rel", p, t, g, volume, len(sample.numbers)))
    captured = density_metrics(sample, pred)["captured_pct"]
    assert rel == pytest.approx(1.0 - captured / 100.0, rel=1e-6)
    # the same for a Δρ ten times larger: every structure weighs alike, unlike 'hartree'
    rel10 = float(loss_g("hartree_rel", 10 * p, 10 * t, g, volume, len(sample.numbers)))
    abs1 = float(loss_g("hartree", p, t, g, volume, len(sample.numbers)))
    abs10 = float(loss_g("hartree", 10 * p, 10 * t, g, volume, len(sample.numbers)))
    assert rel10 == pytest.approx(rel, rel=1e-9) and abs10 == pytest.approx(100 * abs1)


def test_training_with_the_relative_loss_learns(real_samples, tiny_basis):
    res = train_model(
        real_samples, "basis", tiny_basis, steps=30, loss="hartree_rel", progress=False
    )
    assert res.model.metadata["train_config"]["loss"] == "hartree_rel"
    assert min(res.losses[-5:]) < res.losses[0]
    assert res.val["captured_pct"] > 0.0  # the unseen pair SiC, better than the ACS
