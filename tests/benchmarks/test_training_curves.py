"""benchmarks/training_curves.py: validation capture along training, run against run."""

from __future__ import annotations

import csv
import json

import pytest

from rhocat.train.loop import CSV_FIELDS
from tests.benchmarks import shared  # noqa: F401  (puts benchmarks/ on the path)

# isort: split
import training_curves  # benchmarks/ is on the path (tests.benchmarks.shared)


def _write_member(workdir, seed, captured_by_step, steps=16000):
    """A metrics CSV as the training loop writes it: a row per logged step, the validation
    columns filled on validation steps only."""
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / f"features-s{seed}-{steps}.metrics.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        for step in sorted({*range(0, max(captured_by_step) + 1, 50), *captured_by_step}):
            row = {"step": step, "loss": 0.1, "lr": 1e-3, "elapsed_s": step * 0.3}
            if step in captured_by_step:
                row["val_captured_pct"] = captured_by_step[step]
            w.writerow(row)


def test_runs_compare_at_the_last_step_every_member_reached(tmp_path):
    _write_member(tmp_path / "a", 0, {99: 50.0, 199: 60.0, 299: 70.0})
    _write_member(tmp_path / "a", 1, {99: 40.0, 199: 50.0, 299: 80.0})
    _write_member(tmp_path / "b", 0, {99: 55.0, 199: 65.0})  # still training
    _write_member(tmp_path / "b", 1, {99: 45.0, 199: 75.0, 299: 90.0})
    out = tmp_path / "curves.json"
    png = tmp_path / "curves.png"
    argv = ["--run", f"a={tmp_path / 'a'}", "--run", f"b={tmp_path / 'b'}", "--steps", "16000"]
    assert training_curves.main([*argv, "--seeds", "0-1", "-o", str(out), "--plot", str(png)]) == 0
    result = json.loads(out.read_text())
    assert result["common_step"] == 199
    assert result["at_common_step"]["a"] == {"mean": 55.0, "members": {"0": 60.0, "1": 50.0}}
    assert result["at_common_step"]["b"]["mean"] == 70.0
    assert result["runs"]["a"]["steps"] == [99, 199, 299] and result["runs"]["b"]["steps"] == [
        99,
        199,
    ]
    assert result["runs"]["a"]["mean"] == [45.0, 55.0, 75.0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_without_a_member_is_a_usage_error(tmp_path, capsys):
    _write_member(tmp_path / "a", 0, {99: 50.0})
    out = tmp_path / "curves.json"
    with pytest.raises(SystemExit) as exc:
        training_curves.main(["--run", f"a={tmp_path / 'a'}", "--steps", "16000", "--seeds",
                              "0-1", "-o", str(out)])  # fmt: skip
    assert exc.value.code == 2 and "seeds [1]" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit):
        training_curves.main(["--run", str(tmp_path / "a"), "--steps", "16000", "-o", str(out)])
    assert not out.exists()
