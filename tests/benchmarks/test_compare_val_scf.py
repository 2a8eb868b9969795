"""benchmarks/compare_val_scf.py: two models' warm starts on the cells both measured."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

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


def test_repeats_replace_a_cells_count_by_the_mean_of_its_runs(tmp_path):
    a = _write(tmp_path / "a.json", {"x": {"acs": 10, "file": 12}, "y": {"acs": 20, "file": 15}})
    rep = tmp_path / "rep.json"
    rows = {"x": {"acs": 10, "-0.001": 9, "0.001": 9}, "q": {"acs": 3, "0.001": 1}}
    rep.write_text(json.dumps({"rows": rows, "threshold": "file"}))
    out = tmp_path / "cmp.json"
    argv = ["--model", f"a=file:{a}", "--repeats", f"a={rep}", "-o", str(out)]
    assert compare_val_scf.main(argv) == 0
    res = json.loads(out.read_text())["models"]["a"]
    # x: (12 + 9 + 9) / 3 = 10, no longer slower than the ACS's 10; y untouched; q unknown
    assert res["cells"]["x"]["file"] == 10.0 and res["cells"]["x"]["runs"] == [12, 9, 9]
    assert res["cells"]["y"] == {"acs": 20, "file": 15}
    assert res["summary"]["slower_ids"] == [] and res["summary"]["iterations_warm"] == 25.0


def test_a_later_file_replaces_a_cells_runs_and_repeats(tmp_path):
    """A variant measured anew on some cells: its files come after the reference's, and
    each such cell takes the new first run and the new repeats (never both sets)."""
    old = _write(tmp_path / "old.json", {"x": {"acs": 10, "0.01": 14}, "y": {"acs": 9, "0.01": 8}})
    new = _write(tmp_path / "new.json", {"x": {"acs": 10, "0.01": 9}})
    old_rep = _write(tmp_path / "old_rep.json", {"x": {"acs": 10, "-0.001": 15, "0.001": 16}})
    new_rep = _write(tmp_path / "new_rep.json", {"x": {"acs": 10, "-0.001": 8, "0.001": 10}})
    out = tmp_path / "cmp.json"
    argv = ["--model", f"v=0.01:{old},{new}", "--repeats", f"v={old_rep},{new_rep}",
            "-o", str(out)]  # fmt: skip
    assert compare_val_scf.main(argv) == 0
    cells = json.loads(out.read_text())["models"]["v"]["cells"]
    assert cells["x"]["runs"] == [9, 8, 10] and cells["x"]["0.01"] == 9.0
    assert cells["y"] == {"acs": 9, "0.01": 8}


def test_repeats_for_an_unknown_model_are_refused(tmp_path, capsys):
    a = _write(tmp_path / "a.json", {"x": {"acs": 10, "file": 12}})
    argv = ["--model", f"a=file:{a}", "--repeats", f"b={a}", "-o", str(tmp_path / "o.json")]
    with pytest.raises(SystemExit) as exc:
        compare_val_scf.main(argv)
    assert exc.value.code == 2 and "no --model of that name" in capsys.readouterr().err


def _sensitivity(path: Path, rows: dict) -> str:
    path.write_text(json.dumps({"rows": rows, "model": "m.pt"}))
    return str(path)


def test_acs_repeats_average_the_acs_of_every_model(tmp_path):
    a = _write(tmp_path / "a.json", {"x": {"acs": 10, "file": 12}, "y": {"acs": 20, "file": 15}})
    b = _write(tmp_path / "b.json", {"x": {"acs": 10, "0.01": 11}, "y": {"acs": 20, "0.01": 21}})
    null = _sensitivity(
        tmp_path / "null.json",
        {
            "x": {"pw.x atomic": 10, "acs*(1-0.001)": 14, "acs*(1+0.001)": 12},
            "y": {"pw.x atomic": 20, "acs*(1-0.001)": 17, "acs*(1+0.001)": None},
            "q": {"pw.x atomic": 3, "acs*(1+0.001)": 9},  # measured by no model: left out
        },
    )
    out = tmp_path / "cmp.json"
    argv = ["--model", f"a=file:{a}", "--model", f"b=0.01:{b}", "--acs-repeats", null]
    assert compare_val_scf.main([*argv, "-o", str(out)]) == 0
    res = json.loads(out.read_text())
    x = res["models"]["a"]["cells"]["x"]
    assert x["acs"] == 12.0 and x["acs_runs"] == [10, 14, 12]
    assert res["models"]["b"]["cells"]["y"]["acs"] == 18.5  # the unconverged run left out
    # against the ACS's means: a is slower nowhere (12 = 12), b on y (21 > 18.5)
    assert res["models"]["a"]["summary"]["slower_ids"] == []
    assert res["models"]["b"]["summary"]["slower_ids"] == ["y"]
    assert res["acs_null"] == {
        "n": 2,
        "slower_than_first_run": 1,
        "slower_ids": ["x"],
        "iterations_first_run": 30,
        "iterations_mean_of_runs": 30.5,
    }


def test_acs_repeats_of_another_run_are_refused(tmp_path):
    a = _write(tmp_path / "a.json", {"x": {"acs": 10, "file": 12}})
    null = _sensitivity(tmp_path / "n.json", {"x": {"pw.x atomic": 11, "acs*(1+0.001)": 9}})
    argv = ["--model", f"a=file:{a}", "--acs-repeats", null, "-o", str(tmp_path / "o.json")]
    with pytest.raises(SystemExit, match="not the same run"):
        compare_val_scf.main(argv)
    assert not (tmp_path / "o.json").exists()


def test_paired_difference_and_its_bootstrap_interval(tmp_path):
    a = _write(tmp_path / "a.json", {c: {"acs": 20, "0.01": 10} for c in "wxyz"})
    # b: one cell 4 fewer, one 2 more, two the same
    rows = {"w": 6, "x": 12, "y": 10, "z": 10}
    b = _write(tmp_path / "b.json", {c: {"acs": 20, "0.01": n} for c, n in rows.items()})
    out = tmp_path / "cmp.json"
    argv = ["--model", f"a=0.01:{a}", "--model", f"b=0.01:{b}", "-o", str(out)]
    assert compare_val_scf.main(argv) == 0
    pair = json.loads(out.read_text())["paired"]
    assert pair["reference"] == "a"
    p = pair["b"]
    assert p["n"] == 4 and p["iterations_difference"] == -2.0
    assert (p["cells_fewer"], p["cells_more"], p["cells_same"]) == (1, 1, 2)
    low, high = p["bootstrap_95"]
    # resampled sums of 4 draws from {-4, 2, 0, 0} lie in [-16, 8] and straddle 0 here
    assert -16 <= low < 0 < high <= 8
    low99, high99 = p["bootstrap_99"]  # the stricter bar is the wider interval
    assert -16 <= low99 <= low and high <= high99 <= 8 and (low99, high99) != (low, high)


def test_a_consistent_gain_has_an_interval_below_zero(tmp_path):
    a = _write(tmp_path / "a.json", {f"c{i}": {"acs": 20, "0.01": 12} for i in range(30)})
    b = _write(tmp_path / "b.json", {f"c{i}": {"acs": 20, "0.01": 11} for i in range(30)})
    out = tmp_path / "cmp.json"
    argv = ["--model", f"a=0.01:{a}", "--model", f"b=0.01:{b}", "-o", str(out)]
    assert compare_val_scf.main(argv) == 0
    p = json.loads(out.read_text())["paired"]["b"]
    assert p["iterations_difference"] == -30.0 and p["bootstrap_95"] == [-30.0, -30.0]
    assert p["cells_fewer"] == 30


def test_a_cell_counts_as_slower_on_every_run_only_when_no_run_reaches_the_acs(tmp_path):
    rows = {
        "x": {"acs": 10, "file": 12},  # repeats 9, 13: straddles the ACS
        "y": {"acs": 10, "file": 11},  # repeats 12, 11: every run slower
        "z": {"acs": 10, "file": 14},  # no repeats: its one run decides
        "w": {"acs": 10, "file": 9},
    }
    a = _write(tmp_path / "a.json", rows)
    rep = tmp_path / "rep.json"
    reps = {"x": {"acs": 10, "-0.001": 9, "0.001": 13}, "y": {"acs": 10, "-0.001": 12, "0.001": 11}}
    rep.write_text(json.dumps({"rows": reps}))
    out = tmp_path / "cmp.json"
    assert (
        compare_val_scf.main(["--model", f"a=file:{a}", "--repeats", f"a={rep}", "-o", str(out)])
        == 0
    )
    s = json.loads(out.read_text())["models"]["a"]["summary"]
    # the mean's count keeps x (34 / 3 > 10); every run's count drops it
    assert s["slower_ids"] == ["x", "y", "z"]
    assert s["slower_every_run_ids"] == ["y", "z"] and s["slower_every_run"] == 2
