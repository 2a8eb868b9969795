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


def _shares(s: dict) -> list[float]:
    return [v for k, v in s.items() if k != "hartree_decades"]


def test_exact_zero_and_half_predictions(spectrum):
    g, delta = spectrum
    exact = mvi.captured_shares(delta, delta, g, 2.0)
    assert all(v == pytest.approx(100.0) for v in _shares(exact))
    assert exact["hartree_decades"] == pytest.approx(12.0)  # the floor, not infinity
    zero = mvi.captured_shares(delta, 0 * delta, g, 2.0)
    assert all(v == pytest.approx(0.0) for v in zero.values())
    half = mvi.captured_shares(delta, 0.5 * delta, g, 2.0)  # error = Δρ/2: 1 − 1/4
    assert all(v == pytest.approx(75.0) for v in _shares(half))
    assert half["hartree_decades"] == pytest.approx(np.log10(4.0))


def test_decades_weigh_a_point_of_capture_by_where_it_is():
    """90 → 91% is worth less than 98 → 99%; a start worse than the ACS is negative."""
    d = mvi.hartree_decades
    assert d(90.0) == pytest.approx(1.0) and d(99.0) == pytest.approx(2.0)
    assert d(99.0) - d(98.0) > 5 * (d(91.0) - d(90.0))
    assert d(-100.0) == pytest.approx(-np.log10(2.0))


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
