"""`rhocat scf` / `rhocat acs` through the real CLI, including bad input."""

import json
import os
import subprocess
import sys

import pytest
from ase.build import bulk

RHOCAT = [sys.executable, "-m", "rhocat.cli.main"]


def run(args, env=None, cwd=None):
    return subprocess.run(RHOCAT + args, capture_output=True, text=True, env=env, cwd=cwd)


@pytest.fixture
def si_file(tmp_path):
    path = tmp_path / "si.cif"
    bulk("Si", "diamond", a=5.43).write(path)
    return path


def test_scf_json(si_file, tmp_path):
    p = run(["scf", str(si_file), "--ecutwfc", "20", "--json", "--workdir", str(tmp_path / "w")])
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["converged"] is True
    assert out["iterations"] == len(out["scf_accuracy_ry"]) >= 4
    assert out["energy_ry"] < 0 and out["wall_s"] > 0


def test_scf_table(si_file):
    p = run(["scf", str(si_file), "--ecutwfc", "20"])
    assert p.returncode == 0, p.stderr
    assert "scf accuracy" in p.stdout and "converged" in p.stdout


def test_unreadable_structure_exit_2(tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("this is not a CIF\n")
    p = run(["scf", str(bad)])
    assert p.returncode == 2
    assert "cannot read a structure" in p.stderr and "Traceback" not in p.stderr


def test_element_without_pseudo_exit_2(tmp_path):
    path = tmp_path / "au.cif"
    bulk("Au", "fcc", a=4.08).write(path)
    p = run(["scf", str(path)])
    assert p.returncode == 2
    assert "Au" in p.stderr and "covers" in p.stderr and "Traceback" not in p.stderr


def test_pw_missing_says_how_to_install(si_file, tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))  # no pw.x on this PATH
    p = run(["scf", str(si_file)], env=env)
    assert p.returncode == 2
    assert "pw.x not found" in p.stderr and "apt-get install quantum-espresso" in p.stderr


def test_start_from_missing_folder_exit_2(si_file, tmp_path):
    p = run(["scf", str(si_file), "--start", str(tmp_path / "nothing")])
    assert p.returncode == 2 and "charge-density.dat" in p.stderr
