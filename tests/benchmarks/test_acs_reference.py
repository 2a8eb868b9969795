"""benchmarks/acs_reference.py: a model's iterations against two ACS references."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import acs_reference  # noqa: E402


def _paper(tmp_path: Path) -> str:
    rows = [
        {"id": "x", "iterations_acs": 20, "iterations_model": 15},
        {"id": "y", "iterations_acs": 10, "iterations_model": 11},
        {"id": "z", "iterations_acs": 8, "iterations_model": 6},
    ]
    p = tmp_path / "paper.json"
    p.write_text(json.dumps({"models": {"default": {"per_structure": rows}}}))
    return str(p)


def test_figures_against_pw_start_and_against_the_file_acs(tmp_path):
    acs = tmp_path / "acs.json"
    rows = {
        "x": {"acs+0*pred": 12},  # the noise-free ACS is faster than pw.x's: 15 > 12
        "y": {"pw.x atomic": 10, "acs+0*pred": 11},
        "z": {"acs+0*pred": None},  # did not converge: left out
    }
    acs.write_text(json.dumps({"rows": rows}))
    out_path = tmp_path / "o.json"
    argv = [_paper(tmp_path), "--acs", str(acs), "-o", str(out_path)]
    assert acs_reference.main(argv) == 0
    out = json.loads(out_path.read_text())
    pw, ours = out["against_pw_atomic_start"], out["against_reference"]
    assert out["reference"] == "acs+0*pred"
    assert pw["n"] == ours["n"] == 2 and out["missing"] == ["z"]
    assert pw["iterations_reference"] == 30 and ours["iterations_reference"] == 23
    assert pw["slower_ids"] == ["y"] and ours["slower_ids"] == ["x"]
    assert pw["iterations_saved_percent_mean"] == pytest.approx((25.0 - 10.0) / 2)
    assert ours["iterations_saved_percent_mean"] == pytest.approx((-25.0 + 0.0) / 2)
    assert out["reference_against_pw_atomic_start"]["iterations_model"] == 23
    assert out["replays_not_matching_the_benchmark"] == []


def test_a_replay_that_differs_from_the_benchmark_is_reported(tmp_path):
    acs = tmp_path / "acs.json"
    acs.write_text(json.dumps({"rows": {"x": {"pw.x atomic": 21, "acs+0*pred": 18}}}))
    out = acs_reference.compare(
        json.loads(Path(_paper(tmp_path)).read_text()),
        "default",
        json.loads(acs.read_text())["rows"],
    )
    assert out["replays_not_matching_the_benchmark"] == ["x"]


def test_an_unknown_model_is_refused(tmp_path, capsys):
    acs = tmp_path / "acs.json"
    acs.write_text(json.dumps({"rows": {}}))
    with pytest.raises(SystemExit) as exc:
        acs_reference.main([_paper(tmp_path), "--model", "nope", "--acs", str(acs)])
    assert exc.value.code == 2 and "no model 'nope'" in capsys.readouterr().err


def test_another_reference_from_a_second_file_of_the_same_cells(tmp_path, capsys):
    """Rows of one cell spread over two files are merged, not replaced; --reference picks
    pw.x's start without the noise; a key no cell has is refused."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"rows": {"x": {"acs+0*pred": 12}, "y": {"acs+0*pred": 11}}}))
    key = "pw.x atomic, startingwfc=atomic"
    second.write_text(json.dumps({"rows": {"x": {key: 16}, "y": {key: 9}}}))
    files = f"{first},{second}"
    out_path = tmp_path / "o.json"
    argv = [_paper(tmp_path), "--acs", files, "--reference", key, "-o", str(out_path)]
    assert acs_reference.main(argv) == 0
    out = json.loads(out_path.read_text())
    assert out["reference"] == key and out["against_reference"]["iterations_reference"] == 25
    assert out["against_reference"]["slower_ids"] == ["y"]
    assert out["cells"]["x"] == {"pw_atomic": 20, "reference": 16, "model": 15}
    default = acs_reference.compare(
        json.loads(Path(_paper(tmp_path)).read_text()),
        "default",
        {"x": {"acs+0*pred": 12, key: 16}, "y": {"acs+0*pred": 11, key: 9}},
    )
    assert default["against_reference"]["iterations_reference"] == 23
    with pytest.raises(SystemExit) as exc:
        acs_reference.main([_paper(tmp_path), "--acs", files, "--reference", "nope"])
    assert exc.value.code == 2 and "no cell has a 'nope' count" in capsys.readouterr().err


def test_warm_runs_from_first_threshold_outputs_replace_the_papers(tmp_path):
    """--warm: the model's counts come from first_threshold.py rows at the threshold given;
    cells without one are left out; an ACS count that differs from the paper's is refused."""
    acs = tmp_path / "acs.json"
    acs.write_text(json.dumps({"rows": {c: {"acs+0*pred": 10} for c in "xyz"}}))
    warm = tmp_path / "warm.json"
    warm.write_text(json.dumps({"rows": {"x": {"acs": 20, "0.01": 9}, "y": {"acs": 10}}}))
    out_path = tmp_path / "o.json"
    argv = [_paper(tmp_path), "--acs", str(acs), "--warm", f"0.01:{warm}", "-o", str(out_path)]
    assert acs_reference.main(argv) == 0
    out = json.loads(out_path.read_text())
    assert list(out["cells"]) == ["x"] and out["cells"]["x"]["model"] == 9
    assert out["against_pw_atomic_start"]["iterations_model"] == 9
    warm.write_text(json.dumps({"rows": {"x": {"acs": 21, "0.01": 9}}}))
    with pytest.raises(SystemExit, match="x: ACS 21"):
        acs_reference.main(argv)
