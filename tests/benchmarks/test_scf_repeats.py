"""benchmarks/scf_repeats.py: a warm start scaled by 1 + ε on G ≠ 0, run by pw.x."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from tests.conftest import LOW_CUTOFF

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import scf_repeats  # noqa: E402


@pytest.fixture
def si_start(tmp_path):
    from rhocat.predict import predict_restart
    from rhocat.pretrained import load_pretrained

    atoms = bulk("Si", "diamond", a=5.43)
    pred = predict_restart(
        load_pretrained(), atoms, out_dir=tmp_path / "pred.save", overrides=LOW_CUTOFF
    )
    return atoms, Path(pred.restart_dir)


def test_scaling_keeps_the_charge_and_scales_every_other_component(si_start, tmp_path):
    from rhocat.qe.density import read_charge_density, write_charge_density

    _, folder = si_start
    rho = read_charge_density(folder / "charge-density.dat")
    write_charge_density(tmp_path / "scaled.dat", scf_repeats.scaled_density(rho, 1e-3))
    back = read_charge_density(tmp_path / "scaled.dat")
    assert back.n_electrons() == pytest.approx(rho.n_electrons(), rel=1e-12)
    assert back.n_electrons() == pytest.approx(8.0, rel=1e-9)
    g = np.any(rho.miller != 0, axis=1) & (np.abs(rho.rho_g[0]) > 1e-8)
    assert g.sum() > 10
    np.testing.assert_allclose(back.rho_g[0, g] / rho.rho_g[0, g], 1.001, rtol=1e-12)
    assert back.gamma_only == rho.gamma_only


@pytest.mark.needs_pw
def test_pw_converges_from_the_scaled_start(si_start, tmp_path):
    from rhocat.qe.density import read_charge_density, write_charge_density
    from rhocat.qe.scf import run_scf

    atoms, folder = si_start
    rho = read_charge_density(folder / "charge-density.dat")
    write_charge_density(folder / "charge-density.dat", scf_repeats.scaled_density(rho, -1e-3))
    run = run_scf(atoms, start=folder, overrides=LOW_CUTOFF, workdir=tmp_path / "run")
    assert run.converged, run.reason
    assert "The initial density is read from file" in (tmp_path / "run" / "pw.out").read_text()


def test_eps_zero_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        scf_repeats.main(["m.pt", "--ids", "x", "--threshold", "file", "--eps", "0,0.001",
                          "-o", "o.json"])  # fmt: skip
    assert exc.value.code == 2 and "first_threshold.py run" in capsys.readouterr().err
