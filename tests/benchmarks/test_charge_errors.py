"""benchmarks/charge_errors.py: Voronoi charge errors of the shipped prediction per cell."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.benchmarks import shared

# isort: split
import charge_errors  # benchmarks/ is on the path (tests.benchmarks.shared)


def test_the_summary_ranks_charge_errors_against_the_missing_share():
    rows = {
        f"c{k}": {"dq_max": dq, "captured_pct": cap}
        for k, (dq, cap) in enumerate([(0.01, 99.0), (0.05, 95.0), (0.2, 60.0), (0.1, 80.0)])
    }
    out = charge_errors.split_summary(rows)
    assert out["n"] == 4 and out["spearman_dq_vs_missing"] == pytest.approx(1.0)
    assert list(out["largest_errors"])[:2] == ["c2", "c3"]
    assert out["dq_max_mean"] == pytest.approx(0.09)


@shared.needs_dataset
def test_a_dataset_cell_has_neutral_charges_and_the_shipped_captured_share():
    from rhocat.data.store import Dataset
    from rhocat.train import load_model

    model = load_model(str(shared.MODEL))
    smp = Dataset(str(shared.DATASET)).load("zincblende-RhI")
    row = charge_errors.error_row(model, smp)
    assert sum(row["q_ref"]) == pytest.approx(0.0, abs=1e-9)
    assert sum(row["q_pred"]) == pytest.approx(0.0, abs=1e-9)
    diff = np.abs(np.subtract(row["q_pred"], row["q_ref"]))
    assert row["dq_max"] == pytest.approx(diff.max()) and row["dq_max"] > 0.05
    curve = json.loads(
        (shared.BENCHMARKS / "results_shrink_curve_val206_pairradial16000.json").read_text()
    )
    c = str(float(model.config["shrink_c"]))
    (ref,) = [x for x in curve["at_c"][c]["cells"]["val"] if x["id"] == "zincblende-RhI"]
    assert row["captured_pct"] == pytest.approx(ref["captured_pct"], abs=1e-6)
