"""QE's hpsort_eps in C equals its line-by-line Python port, comparison for comparison."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rhocat.qe import gvectors

pytestmark = pytest.mark.needs_c_build


def _near_ties(seed: int, n: int, spread: float) -> np.ndarray:
    """Shells of |G|² values split by ~``spread``: where hpsort_eps is not transitive."""
    rng = np.random.default_rng(seed)
    shells = np.round(rng.random(n // 6 + 1) * 50, 3)
    values = np.repeat(shells, 6)[:n] + rng.random(n) * spread
    return values[rng.permutation(n)]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(0, 400),
    spread=st.sampled_from([0.0, 1e-10, 1e-8, 3e-8, 1e-6]),
)
def test_c_equals_python_port(seed, n, spread):
    values = _near_ties(seed, n, spread)
    c = gvectors._hpsort_eps(values, 1e-8)
    py = gvectors._hpsort_eps_python(values, 1e-8)
    assert c.dtype == np.int64
    np.testing.assert_array_equal(c, py)


def test_c_equals_python_port_on_a_large_list():
    values = _near_ties(7, 15000, 3e-8)
    np.testing.assert_array_equal(
        gvectors._hpsort_eps(values, 1e-8), gvectors._hpsort_eps_python(values, 1e-8)
    )
    assert sorted(gvectors._hpsort_eps(values, 1e-8).tolist()) == list(range(15000))


def test_rejects_a_buffer_that_is_not_float64():
    with pytest.raises(ValueError, match="float64"):
        gvectors._hpsort_c.hpsort_eps(b"12345", 1e-8)


def test_without_the_compiled_sort_a_large_list_warns_and_still_sorts(monkeypatch):
    values = _near_ties(3, gvectors.SLOW_SORT_WARN_SIZE + 500, 3e-8)
    want = gvectors._hpsort_eps_python(values, 1e-8)
    monkeypatch.setattr(gvectors, "_hpsort_c", None)
    with pytest.warns(RuntimeWarning, match="make setup"):
        got = gvectors._hpsort_eps(values, 1e-8)
    np.testing.assert_array_equal(got, want)
