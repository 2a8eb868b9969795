"""benchmarks/element_shrinkage.py: per-element shrinkage, fitted and cross-validated."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import element_shrinkage  # benchmarks/ is on the path (tests.benchmarks.shared)


def _stats(optimal_s: float, u: float, n: int) -> np.ndarray:
    """n cells of E_H(Δρ) = 1 whose best scale of Δρ̄ is ``optimal_s`` (B / A), at ``u``."""
    a = 1.0
    return np.tile([a, optimal_s * a, 1.0, u], (n, 1))


def test_an_element_whose_cells_want_less_of_their_prediction_gets_a_larger_c():
    # Fe-Ni cells are predicted well though their members disagree (best s 0.98 at u 0.3),
    # Rh-I cells need half their Δρ̄ at a smaller u.
    stats = np.vstack([_stats(0.98, 0.3, 6), _stats(0.5, 0.2, 2)])
    els = [frozenset({26, 28})] * 6 + [frozenset({45, 53})] * 2
    c_global, c_of = element_shrinkage.fit_elements(stats, els, start="zero")
    assert max(c_of[45], c_of[53]) >= 16.0 > c_global
    assert max(c_of[26], c_of[28]) <= 0.5
    per_el = element_shrinkage.structure_c(els, c_of, c_global)
    assert element_shrinkage.mean_captured(stats, per_el) > element_shrinkage.mean_captured(
        stats, np.full(len(stats), c_global)
    )
    # An element the fit never saw takes the global c; a structure the most cautious of its.
    assert element_shrinkage.structure_c([frozenset({1})], c_of, c_global)[0] == c_global
    mixed = element_shrinkage.structure_c([frozenset({26, 53})], c_of, c_global)[0]
    assert mixed == max(c_of[26], c_of[53])
    # From the global c, Fe and Ni (always together) cannot fall one at a time.
    c_global, c_of = element_shrinkage.fit_elements(stats, els, start="global")
    assert c_of[26] == c_of[28] == c_global and max(c_of[45], c_of[53]) > c_global


def test_cross_validation_leaves_each_system_out_of_its_own_fit():
    # One system alone wants a large c: left out, its cells are scored with the others' fit.
    stats = np.vstack([_stats(0.98, 0.1, 4), _stats(0.97, 0.1, 4), _stats(0.5, 0.2, 2)])
    els = [frozenset({26, 28})] * 4 + [frozenset({26, 29})] * 4 + [frozenset({45, 53})] * 2
    cv = element_shrinkage.leave_one_system_out(stats, els)
    assert cv["systems"] == 3
    # Rh and I appear in no other system: the held-out cells get the others' global c.
    c_rest, _ = element_shrinkage.fit_elements(stats[:8], els[:8])
    assert cv["c"][8] == cv["c"][9] == c_rest
    np.testing.assert_allclose(cv["per_element"][8:], cv["global"][8:])


@needs_dataset
def test_on_dataset_cells_the_figures_agree_with_the_fitted_c(tmp_path):
    snap = tmp_path / "snap.json"
    val = ["zincblende-RhI", "CdI2-RhI2", "D03-Cu3Rh", "L12-RhCu3", "A15-Ag3As"]
    test = ["CdI2-CuI2", "rocksalt-FeO"]
    snap.write_text(json.dumps({"train": [], "val": val, "test_binary": test}))
    out = tmp_path / "out.json"
    argv = [str(MODEL), str(DATASET), "--snapshot", str(snap), "-o", str(out)]
    assert element_shrinkage.main(argv) == 0
    res = json.loads(out.read_text())
    fit = res["fit_on_val"]
    # Coordinate ascent starts at the global c, so in sample it can only gain.
    assert res["val"]["per_element"]["captured_mean"] >= res["val"]["global"]["captured_mean"]
    for cell in res["cells"]["val"] + res["cells"]["test"]:
        assert cell["shrink"] == pytest.approx(1.0 / (1.0 + cell["c"] * cell["uncertainty"] ** 2))
        assert cell["shrink_global"] == pytest.approx(
            1.0 / (1.0 + fit["c_global"] * cell["uncertainty"] ** 2)
        )
    cv = res["cross_validation"]
    assert cv["systems"] == 3  # Rh-I, Cu-Rh, Ag-As
    cells = cv["cells"]
    assert cv["gain_points"] == pytest.approx(
        np.mean([c["captured_pct"] for c in cells])
        - np.mean([c["captured_global_pct"] for c in cells])
    )
