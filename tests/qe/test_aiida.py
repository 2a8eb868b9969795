"""The AiiDA engine, for real: a throwaway profile, pw.x through aiida-quantumespresso.

The module creates one presto-style AiiDA profile in a temporary folder
(SQLite, ZeroMQ broker), runs 2-atom cells at a low cutoff through
``PwBaseWorkChain`` in this process and once through the daemon, and tears the
profile down at the end. The user's own AiiDA configuration is never touched.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from rhocat.errors import InputError
from rhocat.qe import aiida as ra
from rhocat.qe.aiida_run import run_many
from rhocat.qe.density import read_charge_density
from rhocat.qe.pseudo import load_family
from tests.conftest import LOW_CUTOFF

pytestmark = [pytest.mark.aiida, pytest.mark.needs_pw]

BOHR = 0.529177210903


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    root = tmp_path_factory.mktemp("aiida")
    with ra.temporary_profile(root) as prof:
        yield prof
    assert os.environ.get("AIIDA_PATH") != str(root / ".aiida")


@pytest.fixture(scope="module")
def si_aiida(profile, tmp_path_factory):
    """One real SCF of diamond Si through PwBaseWorkChain (in this process)."""
    workdir = tmp_path_factory.mktemp("aiida-work")
    atoms = bulk("Si", "diamond", a=5.43)
    results = list(run_many([("si", atoms)], workdir=workdir, overrides=LOW_CUTOFF, ranks=1))
    return atoms, workdir, results


def _electrons(save_dir: str, atoms) -> float:
    density = read_charge_density(Path(save_dir) / "charge-density.dat")
    volume_bohr3 = atoms.get_volume() / BOHR**3
    g0 = np.flatnonzero((density.miller == 0).all(axis=1))[0]
    return float(density.rho_g[0, g0].real * volume_bohr3)


def _calcjobs() -> int:
    from aiida.orm import CalcJobNode, QueryBuilder

    return QueryBuilder().append(CalcJobNode).count()


def test_setup_helpers_are_idempotent(profile):
    computer = ra.ensure_computer("localhost")
    assert computer.pk == ra.ensure_computer("localhost").pk
    assert computer.transport_type == "core.local" and computer.scheduler_type == "core.direct"
    assert "{tot_num_mpiprocs}" in computer.get_mpirun_command()
    assert ("--allow-run-as-root" in computer.get_mpirun_command()) == (os.geteuid() == 0)
    code = ra.ensure_code("pw.x", computer)
    assert code.pk == ra.ensure_code("pw.x", computer).pk
    assert code.full_label == "pw@localhost"
    family = load_family("debian-pbe")
    group = ra.ensure_pseudo_family(family)
    assert group.pk == ra.ensure_pseudo_family("debian-pbe").pk
    assert group.label == ra.family_label(family)
    assert group.get_pseudo("Si").md5 == family["Si"].md5
    wfc, rho = group.get_recommended_cutoffs(elements=("Si",), unit="Ry")
    assert (wfc, rho) == (family["Si"].ecutwfc, family["Si"].ecutrho)


def test_scf_through_aiida_matches_local_run(si_aiida, tmp_path):
    from rhocat.qe.scf import run_scf

    atoms, workdir, results = si_aiida
    assert [job_id for job_id, _ in results] == ["si"]
    r = results[0][1]
    assert r.converged and r.reason == ""
    # the density was retrieved into a local folder and holds the valence electrons
    assert Path(r.save_dir).is_relative_to(workdir)
    assert _electrons(r.save_dir, atoms) == pytest.approx(8.0, abs=1e-6)
    assert r.n_electrons == 8.0
    # the same input run locally by rhocat gives the same SCF history
    local = run_scf(atoms, workdir=tmp_path, overrides=LOW_CUTOFF, ranks=1)
    assert local.converged
    assert r.iterations == local.iterations == len(r.scf_accuracy_ry)
    np.testing.assert_allclose(r.scf_accuracy_ry, local.scf_accuracy_ry, rtol=1e-3)
    assert r.energy_ry == pytest.approx(local.energy_ry, abs=1e-6)
    assert r.fft_grid == local.fft_grid
    # the parameters are rhocat's, only AiiDA's file names differ
    for namelist in ("system", "electrons"):
        assert r.parameters[namelist] == local.parameters[namelist]
    assert r.parameters["k_points"] == local.parameters["k_points"]
    assert r.parameters["control"]["prefix"] == "aiida"


def test_aiida_input_file_carries_rhocat_settings(si_aiida):
    from aiida.orm import CalcJobNode, QueryBuilder

    _, _, results = si_aiida
    r = results[0][1]
    calc = QueryBuilder().append(CalcJobNode).order_by({CalcJobNode: {"ctime": "desc"}}).first()[0]
    text = calc.base.repository.get_object_content("aiida.in")
    assert "startingpot = 'atomic'" in text and "verbosity = 'low'" in text
    assert re.search(r"ecutwfc\s*=\s*2\.0+d\+01", text)
    k = r.parameters["k_points"]
    assert f"{k[0]} {k[1]} {k[2]} 0 0 0" in text


def test_rerun_adopts_the_finished_work_chain(si_aiida):
    atoms, workdir, results = si_aiida
    before = _calcjobs()
    again = list(run_many([("si", atoms)], workdir=workdir, overrides=LOW_CUTOFF, ranks=1))
    assert _calcjobs() == before  # nothing recomputed
    assert again[0][1].save_dir == results[0][1].save_dir
    assert again[0][1].iterations == results[0][1].iterations


def test_paw_occupations_are_retrieved(profile, tmp_path):
    family = load_family("debian-pbe")
    assert family["Ge"].kind == "PAW"
    atoms = bulk("Ge", "diamond", a=5.66)
    [(job_id, r)] = list(run_many([("ge", atoms)], workdir=tmp_path, overrides=LOW_CUTOFF, ranks=1))
    assert job_id == "ge" and r.converged, r.reason
    assert (Path(r.save_dir) / "paw.txt").is_file()
    expected = 2 * family["Ge"].z_valence
    assert _electrons(r.save_dir, atoms) == pytest.approx(expected, abs=1e-6)


def test_unconverged_scf_is_a_result_not_an_exception(profile, tmp_path):
    atoms = bulk("Si", "diamond", a=5.5)
    overrides = {**LOW_CUTOFF, "electrons": {"electron_maxstep": 2}}
    # two MPI ranks: the computer's mpirun command (with --allow-run-as-root as root) is used
    [(_, r)] = list(run_many([("bad", atoms)], workdir=tmp_path, overrides=overrides, ranks=2))
    stdout = next(Path(r.workdir).glob("aiida-*/aiida.out")).read_text()
    assert re.search(r"running on\s+2 processors", stdout)
    assert not r.converged
    assert r.iterations == 2
    assert "did not converge" in r.reason and "PwBaseWorkChain" in r.reason


def test_parameters_and_options_for_aiida():
    from rhocat.qe.aiida_run import _options, aiida_parameters
    from rhocat.qe.inputs import pw_parameters

    params = pw_parameters(bulk("Si", "diamond", a=5.43), overrides=LOW_CUTOFF)
    parameters, mesh = aiida_parameters(params)
    assert mesh == params["k_points"]
    assert set(parameters) == {"CONTROL", "SYSTEM", "ELECTRONS"}
    assert "prefix" not in parameters["CONTROL"] and "nat" not in parameters["SYSTEM"]
    assert parameters["CONTROL"]["verbosity"] == "low"
    assert parameters["SYSTEM"]["ecutwfc"] == 20.0
    assert parameters["ELECTRONS"] == params["electrons"]
    assert _options(1, None)["withmpi"] is False
    assert _options(2, None)["withmpi"] is True
    slurm = {"resources": {"num_machines": 2, "num_mpiprocs_per_machine": 1}, "account": "x"}
    opts = _options(1, slurm)
    assert opts["withmpi"] is True and opts["account"] == "x"
    assert "out/aiida.save/charge-density.dat" in opts["additional_retrieve_list"]


def test_bad_input_raises_clear_errors(profile, tmp_path):
    atoms = bulk("Si", "diamond", a=5.43)
    with pytest.raises(InputError, match="no-such-code"):
        list(run_many([("x", atoms)], workdir=tmp_path, code="no-such-code"))
    with pytest.raises(InputError, match="unknown pw.x override"):
        list(run_many([("x", atoms)], workdir=tmp_path, overrides={"nonsense": 1}))
    with pytest.raises(InputError, match="appears twice"):
        list(run_many([("x", atoms), ("x", atoms)], workdir=tmp_path))
    with pytest.raises(InputError, match="does not exist"):
        ra.ensure_profile("no-such-profile")
    with pytest.raises(InputError, match="verdi computer setup"):
        ra.ensure_computer("cluster", transport="core.ssh", scheduler="core.slurm")
    with pytest.raises(InputError, match="daemon"):
        list(run_many([("x", atoms)], workdir=tmp_path, daemon=True))


def test_nested_temporary_profile_restores_the_outer_one(profile):
    from aiida.manage import get_profile

    with ra.temporary_profile() as inner:
        inner_dir = os.environ["AIIDA_PATH"]
        assert get_profile().uuid == inner.uuid != profile.uuid
    assert not os.path.exists(inner_dir)
    assert get_profile().uuid == profile.uuid
    assert ra.ensure_computer("localhost").label == "localhost"


def test_vc_relax_then_scf_through_the_daemon(profile, tmp_path):
    ra.start_daemon(workers=1)
    try:
        assert ra.daemon_running()
        atoms = bulk("Si", "diamond", a=5.58)  # off equilibrium (about 5.61 Å at these settings)
        results = list(
            run_many(
                [("si-relax", atoms)],
                workdir=tmp_path,
                overrides={**LOW_CUTOFF, "k_points": [2, 2, 2]},
                ranks=1,
                relax=True,
                poll_s=0.2,
                timeout_s=240,
            )
        )
    finally:
        ra.stop_daemon()
    [(job_id, r)] = results
    assert job_id == "si-relax" and r.converged, r.reason
    relaxed = r.final_atoms
    assert relaxed is not None and abs(relaxed.get_volume() / atoms.get_volume() - 1) > 0.01
    # the SCF ran on the relaxed cell: its density integrates to 8 electrons over that volume
    assert _electrons(r.save_dir, relaxed) == pytest.approx(8.0, abs=1e-6)
    assert r.parameters["control"]["calculation"] == "scf"


def test_ensure_profile_creates_one_when_none_exists(tmp_path):
    """A fresh AIIDA_PATH: the first call creates the presto-style profile, the next loads it."""
    import subprocess
    import sys

    code = (
        "from rhocat.qe.aiida import ensure_profile\n"
        "p = ensure_profile()\n"
        "print(p.name, p.storage_backend, p.process_control_backend)\n"
    )
    env = {**os.environ, "AIIDA_PATH": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-W", "ignore", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (r.stdout.split() for r in runs)
    assert first == second
    assert first[0] == ra.DEFAULT_PROFILE and first[1] == "core.sqlite_dos"
    assert (tmp_path / ".aiida" / "config.json").is_file()


def test_failed_vc_relax_is_a_result_and_the_run_goes_on(profile, tmp_path):
    """A real vc-relax made impossible (``nstep=0``: pw.x stops before any SCF) is a result.

    Regression: ``run_many`` used to rebind its ``failed`` helper to None, so the
    first failure after a started job raised ``TypeError`` and stopped the run.
    """
    atoms = bulk("Si", "diamond", a=5.58)
    jobs = [("relax-1", atoms), ("relax-2", atoms.copy())]
    overrides = {**LOW_CUTOFF, "control": {"nstep": 0}, "k_points": [1, 1, 1]}
    results = dict(run_many(jobs, workdir=tmp_path, overrides=overrides, ranks=1, relax=True))
    assert list(results) == ["relax-1", "relax-2"]
    for r in results.values():
        assert not r.converged and r.save_dir is None and r.final_atoms is None
        assert r.reason.startswith("vc-relax failed: PwRelaxWorkChain<"), r.reason
        assert "exit status" in r.reason
        assert r.parameters["control"]["calculation"] == "vc-relax"
        assert r.wall_s > 0
