"""benchmarks/metric_vs_iterations.py: captured shares in several norms, rank correlations."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import metric_vs_iterations as mvi  # noqa: E402


@pytest.fixture
def spectrum():
    rng = np.random.default_rng(0)
    g = np.vstack([[0.0, 0.0, 0.0], rng.normal(scale=2.0, size=(400, 3))])
    delta = rng.normal(size=401) + 1j * rng.normal(size=401)
    return g, delta


def test_exact_zero_and_half_predictions(spectrum):
    g, delta = spectrum
    assert all(
        v == pytest.approx(100.0) for v in mvi.captured_shares(delta, delta, g, 2.0).values()
    )
    assert all(
        v == pytest.approx(0.0) for v in mvi.captured_shares(delta, 0 * delta, g, 2.0).values()
    )
    half = mvi.captured_shares(delta, 0.5 * delta, g, 2.0)  # error = Δρ/2: 1 − 1/4
    assert all(v == pytest.approx(75.0) for v in half.values())


def test_norms_weigh_short_and_long_wavelengths_differently(spectrum):
    g, delta = spectrum
    long_wave = np.linalg.norm(g, axis=1) < 2.0
    pred = np.where(long_wave, delta, 0)  # right below |G| = 2 bohr⁻¹, nothing above
    s = mvi.captured_shares(delta, pred, g, 2.0)
    assert s["l2_low"] == pytest.approx(100.0) and s["l2_high"] == pytest.approx(0.0)
    assert s["hartree"] > s["l2"] > 0.0  # 1/G² favours the long waves it got right
    # G = 0 is left out: a wrong charge does not count
    assert mvi.captured_shares(delta, np.where(np.arange(401) == 0, 99.0, delta), g, 2.0)[
        "l2"
    ] == pytest.approx(100.0)


def test_rank_correlation_sign():
    cells = {
        f"c{k}": {
            "iterations": {"a": 10, "b": 10 - k},  # b needs fewer where it captures more
            "shares": {"a": {"hartree": 80.0}, "b": {"hartree": 80.0 + k}},
        }
        for k in range(6)
    }
    res = mvi.rank_correlations(cells, "a", "b")["hartree"]
    assert res["spearman"] == pytest.approx(-1.0) and res["n"] == 6
