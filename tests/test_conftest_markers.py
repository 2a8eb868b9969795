"""The tool markers of tests/conftest.py: a skip for want of a tool, a failure under CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = """
import pytest

@pytest.mark.aiida  # installed (the dev set-up has the aiida extra), so the test runs
def test_skips_itself():
    pytest.skip("no profile today")

@pytest.mark.needs_pw
def test_needs_a_tool_that_is_missing():
    pass

def test_plain():
    pytest.skip("an ordinary skip")
"""


def _run(tmp_path: Path, ci: str | None) -> str:
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "test_x.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(tmp_path)  # no pw.x here
    if ci is not None:
        env["CI"] = ci
    cmd = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    return p.stdout


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_outside_ci_missing_tools_skip(tmp_path, ci):
    out = _run(tmp_path, ci)
    assert "3 skipped" in out and "failed" not in out and "error" not in out, out
    assert "warning" not in out  # the markers are registered
    assert "pw.x is not installed" in out


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_skip_of_a_tool_test_fails(tmp_path, ci):
    out = _run(tmp_path, ci)
    assert "1 failed, 1 skipped, 1 error" in out, out
    assert "CI: skipped a test marked aiida: no profile today" in out
    assert "CI: pw.x is not installed" in out


def test_a_test_scheduled_first_is_collected_before_the_others(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "test_a.py").write_text("def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    (tmp_path / "test_b.py").write_text(
        "import pytest\n\n@pytest.mark.scheduled_first\ndef test_long():\n    pass\n"
    )
    (tmp_path / "test_c.py").write_text("".join(f"def test_{k}():\n    pass\n" for k in "xyz"))
    cmd = [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    ids = [line for line in p.stdout.splitlines() if "::" in line]
    # the marked file, then the others by their number of tests (as xdist would order them)
    assert ids == [
        "test_b.py::test_long",
        "test_c.py::test_x",
        "test_c.py::test_y",
        "test_c.py::test_z",
        "test_a.py::test_one",
        "test_a.py::test_two",
    ], p.stdout
