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


@pytest.mark.needs_pw
def test_scf_json(si_file, tmp_path):
    p = run(["scf", str(si_file), "--ecutwfc", "20", "--json", "--workdir", str(tmp_path / "w")])
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["converged"] is True
    assert out["iterations"] == len(out["scf_accuracy_ry"]) >= 4
    assert out["energy_ry"] < 0 and out["wall_s"] > 0


@pytest.mark.needs_pw
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


@pytest.mark.needs_pw
def test_start_from_missing_folder_exit_2(si_file, tmp_path):
    p = run(["scf", str(si_file), "--start", str(tmp_path / "nothing")])
    assert p.returncode == 2 and "charge-density.dat" in p.stderr


@pytest.mark.needs_pw
def test_scf_not_converged_exits_1(si_file, tmp_path):
    p = run(["scf", str(si_file), "--ecutwfc", "20", "--timeout", "0.05", "--json"])
    assert p.returncode == 1, p.stderr
    out = json.loads(p.stdout)
    assert out["converged"] is False and "timed out" in out["reason"]
    p = run(["scf", str(si_file), "--ecutwfc", "20", "--timeout", "0.05"])
    assert p.returncode == 1 and "NOT converged: " in p.stdout


@pytest.mark.needs_pw
def test_acs_folder_equals_pw_own_acs_dump(tmp_path):
    """`rhocat acs` writes the density pw.x itself starts from (electron_maxstep=0 dump).

    A POSCAR keeps the cell to 16 digits (a CIF's rounded cell parameters give a
    cell that pw.x symmetrises, which changes the start at 1e-8).
    """
    import numpy as np

    from rhocat.qe.density import read_charge_density
    from rhocat.qe.scf import run_scf
    from rhocat.structure_io import read_structure

    si_file = tmp_path / "POSCAR"
    bulk("Si", "diamond", a=5.43).write(si_file, format="vasp")
    p = run(["acs", str(si_file), "--ecutwfc", "20", "-o", str(tmp_path / "acs")])
    assert p.returncode == 0, p.stderr
    ours = read_charge_density(tmp_path / "acs" / "charge-density.dat")
    dump = run_scf(
        read_structure(si_file),
        workdir=tmp_path / "dump",
        overrides={
            "system": {"ecutwfc": 20.0, "ecutrho": 160.0},  # what --ecutwfc 20 means
            "electrons": {"electron_maxstep": 0, "scf_must_converge": False},
        },
    )
    ref = read_charge_density(os.path.join(dump.save_dir, "charge-density.dat"))
    np.testing.assert_array_equal(ours.miller, ref.miller)
    rel = np.linalg.norm(ours.rho_g - ref.rho_g) / np.linalg.norm(ref.rho_g)
    assert rel < 1e-13


def _processes_in(folder) -> list[int]:
    """Pids of live processes whose working directory is ``folder``."""
    pids = []
    for proc in os.listdir("/proc"):
        if proc.isdigit():
            try:
                if os.readlink(f"/proc/{proc}/cwd") == str(folder):
                    pids.append(int(proc))
            except OSError:
                pass
    return pids


@pytest.mark.needs_pw
def test_ctrl_c_exits_130_and_stops_pw(si_file, tmp_path):
    import signal
    import time

    work = tmp_path / "w"
    # a cutoff high enough that pw.x is still running when the signal comes
    cmd = RHOCAT + ["scf", str(si_file), "--ecutwfc", "80", "--workdir", str(work)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # a loaded machine starts pw.x slowly
    while not ((work / "pw.out").is_file() and "PWSCF" in (work / "pw.out").read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, "pw.x never started"
        time.sleep(0.1)
    assert _processes_in(work.resolve())  # pw.x runs in the run folder
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "rhocat: interrupted" and "Traceback" not in err
    assert _processes_in(work.resolve()) == []  # and pw.x was stopped with it
