"""`rhocat demo --quick`, end to end through the real CLI (the slow tier: about 1-2 min)."""

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.needs_pw, pytest.mark.scheduled_first]


def test_quick_demo_runs_every_stage(tmp_path):
    out = tmp_path / "demo"
    # One MPI rank: under `make test` another test runs beside it on the other core.
    cmd = [
        sys.executable,
        "-m",
        "rhocat.cli.main",
        "demo",
        "--quick",
        "--ranks",
        "1",
        "-o",
        str(out),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    for stage in ("3/6 ground-truth DFT", "4/6 training", "5/6 warm-started SCF", "6/6 report"):
        assert stage in p.stdout
    timings = json.loads((out / "demo-timings.json").read_text())
    assert {"dft_s", "train_s", "evaluate_s", "report_s"} <= set(timings)
    assert (out / "model.pt").stat().st_size > 0
    summary = json.loads((out / "results" / "summary.json").read_text())
    assert summary["s_auc"], summary  # at least one split evaluated
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 1
    assert f"report: {(out / 'report.html').resolve()}" in p.stdout
    # rhocat's shipped model, on the demo's test cells whose combination its card lacks
    assert "5b/6 rhocat's shipped model" in p.stdout
    shipped = out / "report-shipped.html"
    if "skipped:" not in p.stdout.split("5b/6", 1)[1].split("6/6", 1)[0]:
        assert shipped.is_file() and "data:image/png;base64," in shipped.read_text()
        assert json.loads((out / "results-shipped" / "summary.json").read_text())["s_auc"]
