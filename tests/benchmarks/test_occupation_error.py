"""benchmarks/occupation_error.py on a few structures of the benchmark dataset."""

from __future__ import annotations

import json
import math

import pytest

from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import occupation_error  # benchmarks/ is on the path (tests.benchmarks.shared)

pytestmark = needs_dataset


def test_each_group_pools_its_cells(tmp_path):
    ids = ["zincblende-CrN", "L10-CrCu", "zincblende-RhI"]
    out = tmp_path / "out.json"
    argv = [str(MODEL), str(DATASET), "--ids", ",".join(ids), "-o", str(out)]
    assert occupation_error.main(argv) == 0
    res = json.loads(out.read_text())
    rows = {r["id"]: r for r in res["cells"]}
    # one PAW element each (N, Cu and Rh are ultrasoft, I is PAW), three groups
    assert set(rows) == set(ids)
    assert rows["zincblende-CrN"]["group"] == "val Cr with B/C/N/O"
    assert rows["L10-CrCu"]["group"] == "val Cr without"
    assert rows["zincblende-RhI"]["group"] == "val I without"
    for r in rows.values():
        assert r["model_sq"] > 0 and r["atomic_sq"] > 0
        g = res["groups"][r["group"]]
        assert g["cells"] == 1
        assert g["error_ratio_pooled"] == pytest.approx(math.sqrt(r["model_sq"] / r["atomic_sq"]))
        assert g["cells_model_farther"] == int(r["model_sq"] > r["atomic_sq"])


def test_a_training_cell_is_closer_to_its_converged_occupations_than_atomic_ones(tmp_path):
    from rhocat.data.store import Dataset

    ds = Dataset(DATASET)
    train_cr = ds.ids(split="train", elements=["Cr"])[:2]
    out = tmp_path / "out.json"
    argv = [str(MODEL), str(DATASET), "--ids", ",".join(train_cr), "-o", str(out)]
    assert occupation_error.main(argv) == 0
    for r in json.loads(out.read_text())["cells"]:
        assert r["group"].startswith("train ")
        assert r["model_sq"] < r["atomic_sq"]  # the ridge fit saw these cells
