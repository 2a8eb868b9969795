"""Warm starts that are not what they claim: a start folder checked against the structure
before pw.x runs, and pw.x's own account of its start read after (real pw.x, real files)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from rhocat.errors import DensityFileError
from rhocat.qe.density import read_charge_density, write_charge_density
from rhocat.qe.scf import run_scf
from rhocat.qe.start import acs_restart
from tests.conftest import LOW_CUTOFF

pytestmark = pytest.mark.needs_pw

ECUTRHO = LOW_CUTOFF["system"]["ecutrho"]


@pytest.fixture
def si_start(tmp_path, si_atoms):
    """rhocat's ACS of Si at the tests' low cutoff: a valid start folder."""
    return acs_restart(si_atoms, "debian-pbe", ECUTRHO, tmp_path / "si.save")


def refused(atoms, start, tmp_path, overrides=LOW_CUTOFF) -> str:
    workdir = tmp_path / "run"
    with pytest.raises(DensityFileError) as info:
        run_scf(atoms, start=start, workdir=workdir, overrides=overrides)
    assert not (workdir / "pw.out").exists()  # refused before pw.x started
    return str(info.value)


def test_truncated_density_refused_before_pw(si_start, si_atoms, tmp_path):
    data = (si_start / "charge-density.dat").read_bytes()
    (si_start / "charge-density.dat").write_bytes(data[: len(data) // 2])
    assert "truncated" in refused(si_atoms, si_start, tmp_path)


def test_density_of_another_structure_refused(si_start, tmp_path):
    cu = bulk("Cu", "fcc", a=3.61)
    msg = refused(cu, si_start, tmp_path)
    assert "not made for this Cu run" in msg and "cell" in msg


def test_density_at_another_cutoff_refused(si_start, si_atoms, tmp_path):
    other = {"system": {"ecutwfc": 25.0, "ecutrho": 200.0}}
    msg = refused(si_atoms, si_start, tmp_path, overrides=other)
    assert "G vectors" in msg and "200 Ry" in msg


def test_density_with_the_wrong_charge_refused(si_start, si_atoms, tmp_path):
    density = read_charge_density(si_start / "charge-density.dat")
    density.rho_g = density.rho_g * (2.35 / 8.0)  # Si's 8 electrons scaled as in the probe
    write_charge_density(si_start / "charge-density.dat", density)
    msg = refused(si_atoms, si_start, tmp_path)
    assert "2.35 electrons" in msg and "8 valence electrons" in msg


def test_predicted_folder_names_the_formula_it_was_made_for(tmp_path):
    from rhocat.predict import predict_restart
    from tests.predict.test_predict import ToyModel

    si = bulk("Si", "diamond", a=5.43)
    predict_restart(ToyModel(), si, out_dir=tmp_path / "pred", overrides=LOW_CUTOFF)
    msg = refused(bulk("Ge", "diamond", a=5.66), tmp_path / "pred", tmp_path)
    assert "records Si2" in msg


def test_a_start_pw_did_not_use_is_a_failure(si_start, si_atoms, tmp_path):
    """pw.x 6.7 given a truncated density says 'Starting from uniform charge' and goes on;
    the result must say so instead of reporting a converged warm start."""
    from rhocat.qe.inputs import pw_parameters, render_pw_input
    from rhocat.qe.parse import parse_stdout
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.runner import run_pw
    from rhocat.qe.scf import _link_pseudos, result_from_output, save_dir_of

    family = load_family("debian-pbe")
    overrides = {"system": dict(LOW_CUTOFF["system"]), "electrons": {"electron_maxstep": 30}}
    params = pw_parameters(
        si_atoms, family, startingpot="file", outdir="./out", overrides=overrides
    )
    params["control"]["prefix"] = "rhocat"
    work = tmp_path / "w"
    _link_pseudos(family, ["Si"], work / "pseudo")
    save = save_dir_of(work)
    save.mkdir(parents=True)
    data = (si_start / "charge-density.dat").read_bytes()
    (save / "charge-density.dat").write_bytes(data[:3000])  # as the probe: cut in the G list
    raw = run_pw(render_pw_input(si_atoms, params, family), work, ranks=1, timeout_s=120)
    hist = parse_stdout(raw.stdout)
    assert hist.initial_density == "uniform"
    result = result_from_output(
        raw.stdout,
        save,
        atoms=si_atoms,
        family=family,
        parameters=params,
        start=str(si_start),
        workdir=work,
        wall_s=raw.wall_s,
    )
    assert not result.converged
    assert "did not use the start density" in result.reason and "uniform" in result.reason


def test_a_used_start_is_reported_as_read_from_file(si_start, si_atoms, tmp_path):
    over = {"system": dict(LOW_CUTOFF["system"]), "electrons": {"electron_maxstep": 1}}
    over["electrons"]["scf_must_converge"] = False
    r = run_scf(si_atoms, start=si_start, workdir=tmp_path / "w", overrides=over)
    assert r.initial_density == "file" and "start density" not in r.reason
    r = run_scf(si_atoms, workdir=tmp_path / "a", overrides=over)
    assert r.initial_density == "atomic"
    assert np.isfinite(r.energies_ry[0])
