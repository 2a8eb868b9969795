"""benchmarks/uncertainty_calibration.py on a few structures of the benchmark dataset."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import uncertainty_calibration  # benchmarks/ is on the path (tests.benchmarks.shared)

pytestmark = needs_dataset


def test_test_cells_beyond_the_validation_calibration_are_listed_worst_first(tmp_path):
    snap = tmp_path / "snap.json"
    val = ["D03-Cu3Rh", "L12-RhCu3", "zincblende-RhI"]
    test = ["rocksalt-FeO", "CdI2-CuI2", "L10-FeGe", "D03-Ga3Ni"]
    snap.write_text(json.dumps({"val": val, "test_binary": test}))
    out = tmp_path / "out.json"
    argv = [str(MODEL), str(DATASET), "--snapshot", str(snap), "-o", str(out)]
    assert uncertainty_calibration.main(argv) == 0
    res = json.loads(out.read_text())
    assert res["val"]["n"] == 3 and res["test"]["n"] == 4
    cells = res["cells"]["test"]
    for c in cells:
        assert c["uncertainty"] > 0
        assert c["residual"] == pytest.approx(1 - c["captured_pct"] / 100)
    limit = res["val"]["residual_over_u2_max"]
    beyond = res["test"]["beyond_validation"]
    ratios = {c["id"]: c["residual"] / c["uncertainty"] ** 2 for c in cells}
    assert [b["id"] for b in beyond] == sorted(
        (i for i, q in ratios.items() if q > limit), key=lambda i: -ratios[i]
    )
    # L1₀ FeGe: u small for how wrong it is, beyond these three validation cells
    assert "L10-FeGe" in [b["id"] for b in beyond]
