"""benchmarks/paper.py: runs of different models write into one result file."""

from __future__ import annotations

import json
import multiprocessing
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _paper():
    sys.path.insert(0, str(BENCH))
    try:
        import paper
    finally:
        sys.path.remove(str(BENCH))
    return paper


def _base(snapshot: str, subset: list[str]) -> dict:
    return {"snapshot": snapshot, "scf_subset": subset, "models": {}}


def _write_many(path: str, name: str, n: int) -> None:
    paper = _paper()
    result = _base("snap.json", ["a", "b"])
    for k in range(n):
        result = paper.record_model(Path(path), result, name, {"k": k})


def test_parallel_runs_keep_each_others_models(tmp_path):
    path = tmp_path / "results.json"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(path), m, 30)) for m in ("x", "y", "z")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    models = json.loads(path.read_text())["models"]
    assert models == {"x": {"k": 29}, "y": {"k": 29}, "z": {"k": 29}}
    assert sorted(q.name for q in tmp_path.iterdir()) == ["results.json"]


def test_other_snapshot_or_subset_is_replaced(tmp_path):
    paper = _paper()
    path = tmp_path / "results.json"
    paper.record_model(path, _base("snap.json", ["a"]), "x", {"k": 1})
    paper.record_model(path, _base(str(Path("snap.json").resolve()), ["a"]), "y", {"k": 2})
    assert set(json.loads(path.read_text())["models"]) == {"x", "y"}  # same file, two spellings
    paper.record_model(path, _base("snap.json", ["a", "b"]), "z", {"k": 3})
    assert set(json.loads(path.read_text())["models"]) == {"z"}


def test_the_paper_settings_threshold_is_its_own_column(tmp_path):
    """A run with pw.x's file threshold does not overwrite the model at rhocat's default, and
    the table says which threshold each column had."""
    paper = _paper()
    sys.path.insert(0, str(BENCH))
    try:
        import paper_table
    finally:
        sys.path.remove(str(BENCH))
    path = tmp_path / "results.json"
    assert paper.record_key("default", True) == "default"
    assert paper.record_key("default", False) == "default@1e-5"
    for same, thr in ((True, 0.01), (False, 1e-5)):
        split = {
            "n": 1,
            "s_auc": {},
            "iterations_saved_percent": {},
            "inference_over_one_scf_iteration_percent": {},
            "energy_relative_difference": {},
            "nmae_percent_model": {},
            "nmae_percent_acs": {},
        }
        entry = {"warm_diago_thr_init": [thr], "splits": {"test (all)": split}}
        result = paper.record_model(path, _base("s.json", ["a"]), paper.record_key("radial", same),
                                    entry)  # fmt: skip
    assert list(result["models"]) == ["radial", "radial@1e-5"]
    lines = paper_table.table(result).splitlines()
    assert lines[0] == "| figure | radial | radial@1e-5 |"
    assert lines[3] == "| warm start's first diagonalization threshold | 0.01 | 1e-05 |"
