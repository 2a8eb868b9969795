"""benchmarks/latent_distance.py on a few structures of the benchmark dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import latent_distance  # benchmarks/ is on the path (tests.benchmarks.shared)

pytestmark = needs_dataset


def test_training_structures_have_no_novelty_and_the_choice_is_the_validation_best(tmp_path):
    snap = tmp_path / "snap.json"
    train = ["A15-Ag3As", "A15-Rh3Ge", "A15-Fe3Cu", "CdI2-FeI2", "CdI2-CrO2", "A15-Cu3Ga"]
    val = ["A15-Ag3As", "zincblende-RhI", "D03-Cu3Rh"]  # the first is a training structure
    test = ["CdI2-CuI2", "rocksalt-FeO"]
    snap.write_text(json.dumps({"train": train, "val": val, "test_binary": test}))
    out = tmp_path / "out.json"
    argv = [str(MODEL), str(DATASET), "--snapshot", str(snap), "-o", str(out)]
    assert latent_distance.main(argv) == 0
    res = json.loads(out.read_text())
    cells = {c["id"]: c for c in res["cells"]["val"]}
    assert cells["A15-Ag3As"]["novelty"] == pytest.approx(0.0, abs=1e-9)
    assert cells["zincblende-RhI"]["novelty"] > 0.05
    assert all(np.isfinite(c["novelty"]) for c in res["cells"]["test"])
    grid = res["val_grid"]
    best = res["choice"]
    assert grid[f"c={best['c']},d={best['d']}"] == pytest.approx(max(grid.values()))
    assert res["val"]["captured_mean"] == pytest.approx(best["val_captured_mean"])
    for c in res["cells"]["test"]:
        s = 1.0 / (1.0 + best["c"] * c["uncertainty"] ** 2 + best["d"] * c["novelty"] ** 2)
        assert c["shrink"] == pytest.approx(s)
        assert c["captured_unshrunk_pct"] < 100.0
