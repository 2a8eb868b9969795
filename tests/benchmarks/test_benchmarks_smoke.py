"""Every benchmark script starts on a fresh clone; the cheap ones run end to end.

Not timings (those are the benchmarks' job): the smallest arguments, and checks
of what the scripts print.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py"))


def _run(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env
    )


#: Runs every script as ``__main__`` with ``--help`` in one fresh interpreter (PyTorch and
#: the rest imported once, not once per script) and prints, per script, its exit code and
#: what it wrote, as JSON.
_HELP_ALL = """
import contextlib, io, json, runpy, sys, traceback
out = {}
for path in sys.argv[1:]:
    buf, err, code = io.StringIO(), io.StringIO(), None
    sys.argv = [path, "--help"]
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            traceback.print_exc(file=err)
            code = "raised"
    out[path] = {"code": code, "stdout": buf.getvalue(), "stderr": err.getvalue()[-2000:]}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def help_of_every_script() -> dict:
    paths = [str(BENCH / s) for s in SCRIPTS]
    p = _run(["-c", _HELP_ALL, *paths], timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return {Path(k).name: v for k, v in json.loads(p.stdout.splitlines()[-1]).items()}


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_starts_and_documents_its_arguments(script, help_of_every_script):
    got = help_of_every_script[script]
    assert got["code"] == 0, got["stderr"]
    assert got["stdout"].startswith("usage:"), got["stdout"][:500]


def test_run_all_refuses_an_unknown_name_before_running_anything(tmp_path):
    p = _run([str(BENCH / "run_all.py"), "no_such_benchmark"], timeout=60)
    assert p.returncode == 2 and "no benchmark named no_such_benchmark" in p.stderr
    assert "running" not in p.stderr and "Traceback" not in p.stderr


def test_run_all_names_existing_scripts():
    sys.path.insert(0, str(BENCH))
    try:
        import run_all
    finally:
        sys.path.remove(str(BENCH))
    for name, _ in run_all.DEFAULT:
        assert (BENCH / f"{name}.py").is_file(), name


def test_data_index_benchmark_runs():
    p = _run([str(BENCH / "data_index.py"), "--rows", "2000", "--repeats", "1"])
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    ok_train = sum(1 for i in range(0, 2000, 4) if i % 10)
    val_ga = sum(1 for i in range(2000) if i % 4 == 1 and i % 3 and i % 10)
    assert out["rows"] == 2000 and out["check"] == 2000 + ok_train + val_ga + 2000


def test_candidates_speed_benchmark_runs():
    p = _run([str(BENCH / "candidates_speed.py")], timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    assert out["oxidation_guesses"]["formulas"] == 7 and out["oxidation_guesses"]["wall_s"] > 0
    assert out["demo_enumeration"]["candidates_by_n_elements"]["1"] == 12  # all but N and O


@pytest.mark.slow
def test_inference_benchmark_runs_with_its_defaults():
    """No --dataset or --checkpoint: the shipped model (a fresh clone has no dataset)."""
    p = _run([str(BENCH / "inference.py"), "--no-scf", "--repeat", "2", "--only", "a_Si2_25Ry"])
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    assert list(out["structures"]) == ["a_Si2_25Ry"]
    row = out["structures"]["a_Si2_25Ry"]
    assert row["n_atoms"] == 2 and row["inference_s"] > 0 and row["ngm"] > 100
