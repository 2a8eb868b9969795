"""Every script in examples/ runs as a user would run it (a subprocess, real pw.x).

Each example runs pw.x twice in a fresh Python process (minutes on a loaded 2-core
machine): the module is marked ``needs_pw`` and ``slow`` (left out of ``make test-fast``).
The training example takes longer still: it is marked ``long`` and left out of
``make test`` (run it with ``pytest -m long tests/examples``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.needs_pw, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH")) if p
    )
    env["PATH"] = os.pathsep.join((os.path.dirname(sys.executable), env.get("PATH", "")))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("RHOCAT_RANKS", "1")
    env.update(extra)
    return env


def _run(args, cwd, timeout=900, **extra) -> str:
    run = subprocess.run(
        args, cwd=cwd, env=_env(**extra), capture_output=True, text=True, timeout=timeout
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


def _floats(pattern: str, text: str) -> list[float]:
    return [float(x) for x in re.findall(pattern, text)]


def test_predict_and_run_from_python(tmp_path):
    out = _run([sys.executable, str(EXAMPLES / "predict_and_run.py"), "-o", "w"], tmp_path)
    assert "predicted Si2" in out
    assert out.count("converged=True") == 2, out
    e_atomic, e_warm = _floats(r"energy=(-?[\d.]+) Ry", out)
    assert e_warm == pytest.approx(e_atomic, abs=1e-6)
    assert (tmp_path / "w" / "start" / "charge-density.dat").is_file()
    assert "The initial density is read from file" in (tmp_path / "w/warm/pw.out").read_text()


def test_ase_warm_start(tmp_path):
    out = _run([sys.executable, str(EXAMPLES / "ase_warm_start.py"), "-o", "w"], tmp_path)
    assert "atomic start:" in out and "density read from file=False" in out
    assert "rhocat start:" in out and "density read from file=True" in out
    e_atomic, e_warm = _floats(r"energy=(-?[\d.]+) eV", out)
    assert e_warm == pytest.approx(e_atomic, abs=1e-4)


@pytest.mark.aiida
def test_aiida_warm_start(tmp_path):
    # a fresh AIIDA_PATH: the example creates its presto-style profile there
    out = _run(
        [sys.executable, "-W", "ignore", str(EXAMPLES / "aiida_warm_start.py")],
        tmp_path,
        AIIDA_PATH=str(tmp_path / "aiida"),
    )
    assert out.count("finished_ok=True") == 2, out
    (diff,) = _floats(r"relative energy difference: ([\d.e+-]+)", out)
    assert diff <= 1e-9


@pytest.mark.long
def test_train_on_your_own_structures(tmp_path):
    rhocat = f"{sys.executable} -m rhocat.cli.main"
    out = _run(
        ["bash", str(EXAMPLES / "train_your_own.sh"), str(tmp_path / "own")],
        tmp_path,
        timeout=1800,
        RHOCAT=rhocat,
    )
    own = tmp_path / "own"
    assert (own / "model.pt").is_file() and (own / "model.metrics.csv").is_file()
    assert (own / "new.save" / "charge-density.dat").is_file()
    assert out.count("converged;") == 2, out[-3000:]
