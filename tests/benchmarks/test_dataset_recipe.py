"""benchmarks/dataset_recipe.py: which cells the benchmark dataset holds, per split."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import dataset_recipe  # noqa: E402


def _split(*assignments):
    return SimpleNamespace(assignments=[SimpleNamespace(id=i, split=s) for i, s in assignments])


def test_more_val_prototypes_are_the_validation_cells_the_choice_left_out(monkeypatch):
    split = _split(("b-X", "val"), ("a-X", "val"), ("c-X", "val"), ("d-Y", "train"))
    chosen = {"c-X": "val", "d-Y": "train"}
    assert dataset_recipe.more_val_prototypes(split, chosen) == ["a-X", "b-X"]
    assert dataset_recipe.extra_split("a-X", ["a-X"]) == "val"
    assert dataset_recipe.extra_split("graphite-C", ["a-X"]) == "train"
    assert dataset_recipe.extra_split("CdI2-RhI2") == "val"
    monkeypatch.setattr(dataset_recipe, "ALL_VAL_PROTOTYPES", False)
    assert dataset_recipe.more_val_prototypes(split, chosen) == []


def test_every_validation_candidate_is_a_job_or_dropped_with_its_reason():
    split = json.loads((BENCH / "dataset" / "split.json").read_text())
    spec = json.loads((BENCH / "dataset" / "jobs.json").read_text())
    val = {c["id"] for c in split["candidates"] if c["split"] == "val"}
    parents = {j["parent"] for j in spec["jobs"] if j["split"] == "val"}
    assert val - parents == val & set(spec["dropped"])  # the rest are all computed
    # 63 candidates of the 8 combinations: 58 computed, 5 over 0.5 eV/atom above the hull
    assert (len(val), len(val & parents), len(val & set(spec["dropped"]))) == (63, 58, 5)
    copies = [j for j in spec["jobs"] if j["split"] == "val" and j["parent"] in val]
    assert len(copies) == 2 * len(val & parents)  # the cell and one strained copy


def test_the_enlarged_validation_snapshot_keeps_train_and_test():
    old = json.loads((BENCH / "full_snapshot.json").read_text())
    new = json.loads((BENCH / "full_snapshot_val122.json").read_text())
    for split in ("train", "test_binary", "test_ternary"):
        assert new[split] == old[split]
    assert set(old["val"]) < set(new["val"]) and len(new["val"]) == 122
    jobs = {j["id"] for j in json.loads((BENCH / "dataset" / "jobs.json").read_text())["jobs"]}
    assert set(new["val"]) <= jobs
