"""The probe model: invariant, charge-conserving full-grid output."""

from __future__ import annotations

import numpy as np
import torch

from rhocat.models import PointwiseModel, predict_delta_rho_g
from rhocat.models.grid import g_to_grid

SMALL = {"hidden": 16, "n_rbf": 8, "n_interactions": 2, "max_neighbours": 24, "output_scale": 1.0}


def _model():
    torch.manual_seed(0)
    return PointwiseModel(SMALL, [6, 14])


def test_probe_values_are_invariant(triclinic):
    numbers, pos, cell, _ = triclinic
    m = _model()
    rng = np.random.default_rng(1)
    probes = rng.random((50, 3)) @ cell
    z = torch.as_tensor(numbers)
    with torch.no_grad():
        ref = m.probe_values(m.atom_states(z, pos, cell), pos, cell, probes).numpy()
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # orthogonal, may be improper
        t = np.array([0.3, -1.2, 2.0])
        got = m.probe_values(
            m.atom_states(z, pos @ q.T + t, cell @ q.T), pos @ q.T + t, cell @ q.T, probes @ q.T + t
        )
        perm = [2, 0, 1]
        got_p = m.probe_values(m.atom_states(z[perm], pos[perm], cell), pos[perm], cell, probes)
    assert np.abs(ref).max() > 1e-3
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-10)
    np.testing.assert_allclose(got_p.numpy(), ref, atol=1e-12)


def test_full_grid_has_zero_mean_and_goes_to_g_space(triclinic):
    numbers, pos, cell, miller = triclinic
    m = _model()
    shape = (12, 12, 12)
    grid = m.predict_grid(numbers, pos, cell, shape)
    assert abs(grid.mean()) < 1e-15 and grid.std() > 1e-4
    small = miller[np.all(np.abs(miller) <= 5, axis=1)]
    vals = predict_delta_rho_g(m, numbers, pos, cell, small, fft_grid=shape)
    assert vals[np.all(small == 0, axis=1)][0] == 0
    # the G values are the FFT of the grid on every listed G
    back = g_to_grid(vals, small, shape)
    full = np.fft.fftn(grid) / grid.size
    keep = np.zeros(shape, bool)
    keep[tuple((small % 12).T)] = True
    np.testing.assert_allclose(np.fft.fftn(back)[keep] / back.size, full[keep], atol=1e-12)
