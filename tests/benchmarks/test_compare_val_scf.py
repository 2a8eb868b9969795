"""benchmarks/compare_val_scf.py: two models' warm starts on the cells both measured."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import compare_val_scf  # noqa: E402


def _write(path: Path, rows: dict) -> str:
    path.write_text(json.dumps({"rows": rows}))
    return str(path)


def test_each_model_at_its_own_threshold_on_the_common_cells(tmp_path):
    a1 = _write(tmp_path / "a1.json", {"x": {"acs": 10, "file": 12, "0.01": 8}})
    a2 = _write(tmp_path / "a2.json", {"y": {"acs": 20, "0.01": 15}, "z": {"acs": 5, "0.01": 4}})
    b = _write(tmp_path / "b.json", {"x": {"acs": 10, "file": 11}, "y": {"acs": 20, "file": 21}})
    out = tmp_path / "cmp.json"
    argv = ["--model", f"a=0.01:{a1},{a2}", "--model", f"b=file:{b}", "--rule", "r", "-o", str(out)]
    assert compare_val_scf.main(argv) == 0
    res = json.loads(out.read_text())
    assert res["rule"] == "r"
    a, b = res["models"]["a"]["summary"], res["models"]["b"]["summary"]
    # z is measured for a only: left out of both
    assert a["n"] == b["n"] == 2 and a["iterations_acs"] == 30
    assert a["iterations_warm"] == 23 and a["slower_ids"] == []
    assert b["iterations_warm"] == 32 and b["slower_ids"] == ["x", "y"]
    assert abs(a["iterations_saved_percent_mean"] - (20.0 + 25.0) / 2) < 1e-9
