"""benchmarks/start_swap.py: one model's density with the other's PAW occupations."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ase.build import bulk

from tests.conftest import LOW_CUTOFF

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import start_swap  # noqa: E402


@pytest.fixture
def two_gaas_starts(tmp_path):
    """GaAs (both species PAW) predicted by the shipped model and the kept iodide model."""
    from rhocat.predict import predict_restart
    from rhocat.pretrained import load_pretrained
    from rhocat.train import load_model

    atoms = bulk("GaAs", "zincblende", a=5.65)
    models = {
        "a": load_pretrained(),
        "b": load_model(ROOT / "benchmarks" / "checkpoints" / "iodides-8000.pt"),
    }
    dirs = {
        k: Path(predict_restart(m, atoms, out_dir=tmp_path / k, overrides=LOW_CUTOFF).restart_dir)
        for k, m in models.items()
    }
    return atoms, dirs


@pytest.mark.needs_pw
def test_density_of_one_occupations_of_the_other_and_pw_runs(two_gaas_starts, tmp_path):
    from rhocat.qe.scf import run_scf

    atoms, dirs = two_gaas_starts
    rho = {k: (d / "charge-density.dat").read_bytes() for k, d in dirs.items()}
    occ = {k: (d / "paw.txt").read_text() for k, d in dirs.items()}
    assert rho["a"] != rho["b"] and occ["a"] != occ["b"]  # two different predictions
    mixed = start_swap.combined_start(dirs["a"], dirs["b"], tmp_path / "mixed")
    assert (mixed / "charge-density.dat").read_bytes() == rho["a"]
    assert (mixed / "paw.txt").read_text() == occ["b"]
    assert (dirs["a"] / "paw.txt").read_text() == occ["a"]  # the source is left as it was
    run = run_scf(atoms, start=mixed, overrides=LOW_CUTOFF, workdir=tmp_path / "run")
    assert run.converged, run.reason


def test_two_models_are_required(capsys):
    with pytest.raises(SystemExit) as exc:
        start_swap.main(["--model", "a=x.pt", "--ids", "y"])
    assert exc.value.code == 2 and "two --model" in capsys.readouterr().err
