"""benchmarks/l_scaling.py: a per-l scale of the ensemble's mean, fitted in closed form."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rhocat.train.metrics import hartree_energy_ry
from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import l_scaling  # benchmarks/ is on the path (tests.benchmarks.shared)


def _synthetic(scale0: float, rng, n_g: int = 40):
    """Two parts on random G vectors, and a target that is ``scale0``·p0 + p1 + noise."""
    g = rng.normal(size=(n_g, 3))
    parts = rng.normal(size=(2, n_g)) + 1j * rng.normal(size=(2, n_g))
    target = scale0 * parts[0] + parts[1]
    return parts, target, g


def test_captured_is_the_hartree_share_of_the_scaled_sum():
    rng = np.random.default_rng(1)
    parts, target, g = _synthetic(0.5, rng)
    target = target + 0.3 * (rng.normal(size=target.shape) + 1j * rng.normal(size=target.shape))
    st = l_scaling.cell_stats(parts, target, g)
    a, u, c = np.array([0.7, 1.2]), np.array([0.4]), 2.0
    s = 1.0 / (1.0 + c * 0.16)
    pred = s * (a[0] * parts[0] + a[1] * parts[1])
    err, size = hartree_energy_ry(pred - target, g, 1.0), hartree_energy_ry(target, g, 1.0)
    expected = 100 * (1 - err / size)
    assert l_scaling.captured([st], u, a, c)[0] == pytest.approx(expected, rel=1e-10)


def test_the_fit_finds_an_overshooting_l0_part():
    rng = np.random.default_rng(2)
    stats = []
    for _ in range(6):
        parts, target, g = _synthetic(0.6, rng)  # the model puts 1/0.6 of the true l = 0 part
        stats.append(l_scaling.cell_stats(parts, target, g))
    u = np.zeros(len(stats))
    a, _ = l_scaling.fit(stats, u, "l0")
    assert a[0] == pytest.approx(0.6, abs=1e-3) and a[1] == 1.0
    assert l_scaling.captured(stats, u, a, 0.0) == pytest.approx(100.0, abs=1e-3)
    shipped, _ = l_scaling.fit(stats, u, "shipped")
    np.testing.assert_array_equal(shipped, [1.0, 1.0])
    assert l_scaling.captured(stats, u, shipped, 0.0).mean() < 99.0


def test_leaving_a_system_out_scores_it_with_the_others_fit():
    rng = np.random.default_rng(3)
    stats, systems = [], []
    for k, scale in enumerate([0.5, 0.5, 0.5, 1.5]):  # the last system overshoots the other way
        parts, target, g = _synthetic(scale, rng)
        stats.append(l_scaling.cell_stats(parts, target, g))
        systems.append(["Rh", "I"] if k < 3 else ["Ni", "I"])
    u = np.zeros(4)
    cv = l_scaling.leave_one_system_out(stats, u, systems, "l0")
    # Held out, the Ni–I cell is scored with a_0 = 0.5 fitted on Rh–I, and Rh–I with Ni–I's 1.5.
    ni_with_rhi = l_scaling.captured(stats[3:], u[3:], np.array([0.5, 1.0]), 0.0)[0]
    rhi_with_ni = l_scaling.captured(stats[:3], u[:3], np.array([1.5, 1.0]), 0.0)
    assert cv[3] == pytest.approx(ni_with_rhi, abs=1e-3)
    assert cv[:3] == pytest.approx(rhi_with_ni, abs=1e-3)
    assert max(cv) < 99.0  # neither system is fitted on itself


@needs_dataset
def test_on_a_dataset_cell_the_parts_add_up_to_the_ensembles_mean(tmp_path):
    from rhocat.data.store import Dataset
    from rhocat.models.ensemble import unshrunk_mean
    from rhocat.train import load_model

    model = load_model(str(MODEL))
    smp = Dataset(str(DATASET)).load("zincblende-RhI")
    parts, u = l_scaling.l_parts(model, smp)
    mean, u_ref = unshrunk_mean(model, smp)
    assert parts.shape[0] == model.spec.l_max + 1
    np.testing.assert_allclose(parts.sum(axis=0), mean, atol=1e-9 * np.abs(mean).max())
    assert u == pytest.approx(u_ref)
    # The shipped model's captured share of this cell at c = 1, as shrink_curve.py counts it.
    st = l_scaling.cell_stats(parts, smp.delta_rho_g, np.asarray(smp.g_cart))
    ones = np.ones(len(parts))
    curve = json.loads(
        (DATASET.parents[1] / "results_shrink_curve_val206_pairradial16000.json").read_text()
    )
    (ref,) = [c for c in curve["at_c"]["1.0"]["cells"]["val"] if c["id"] == "zincblende-RhI"]
    got = l_scaling.captured([st], np.array([u]), ones, 1.0)[0]
    assert got == pytest.approx(ref["captured_pct"], abs=1e-6)
