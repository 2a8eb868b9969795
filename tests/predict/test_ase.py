"""The ASE warm start: ASE's real ``Espresso`` calculator runs pw.x from rhocat's prediction."""

from __future__ import annotations

import copy

import pytest
from ase.build import bulk
from ase.calculators.espresso import Espresso, EspressoProfile

from rhocat.errors import InputError
from rhocat.predict.ase import espresso_save_dir, espresso_warm_start
from rhocat.qe.pseudo import load_family
from tests.conftest import first_ethr

pytestmark = pytest.mark.needs_pw

INPUT = {
    "system": {
        "ecutwfc": 20,
        "ecutrho": 160,
        "occupations": "smearing",
        "smearing": "cold",
        "degauss": 0.02,
    },
    "electrons": {"conv_thr": 1e-9},
}


def _calc(directory, element: str, **control) -> Espresso:
    pseudo = load_family("debian-pbe")[element]
    data = {**copy.deepcopy(INPUT), "control": dict(control)}
    return Espresso(
        profile=EspressoProfile(command="pw.x", pseudo_dir=str(pseudo.path.parent)),
        directory=str(directory),
        pseudopotentials={element: pseudo.filename},
        input_data=data,
        kpts=(4, 4, 4),
    )


def test_espresso_calculator_starts_from_the_prediction(tmp_path):
    atoms = bulk("Si", "diamond", a=5.43)
    cold = atoms.copy()
    cold.calc = _calc(tmp_path / "cold", "Si")
    e_cold = cold.get_potential_energy()
    assert (
        "The initial density is read from file" not in (tmp_path / "cold/espresso.pwo").read_text()
    )

    calc = _calc(tmp_path / "warm", "Si")
    result = espresso_warm_start(calc, atoms)  # the shipped model
    save = tmp_path / "warm" / "pwscf.save"  # pw.x's defaults: outdir ./, prefix pwscf
    assert espresso_save_dir(calc) == save and result.restart_dir == str(save)
    assert (save / "charge-density.dat").is_file() and (save / "prediction.json").is_file()
    assert result.ecutrho_ry == 160.0 and result.requirements["assumed"]["ecutwfc_ry"] == 20.0
    assert calc.parameters["input_data"]["electrons"]["startingpot"] == "file"
    assert calc.parameters["input_data"]["electrons"]["conv_thr"] == 1e-9  # the user's values stay
    atoms.calc = calc
    e_warm = atoms.get_potential_energy()
    out = (tmp_path / "warm" / "espresso.pwo").read_text()
    assert "startingpot" in (tmp_path / "warm" / "espresso.pwi").read_text()
    assert "The initial density is read from file" in out
    # rhocat's warm-start threshold: the first diagonalization at 1e-2, not pw.x's 1e-5
    assert calc.parameters["input_data"]["electrons"]["diago_thr_init"] == 1e-2
    assert calc.parameters["input_data"]["electrons"]["startingwfc"] == "atomic"
    assert "atomic" in (tmp_path / "warm" / "espresso.pwi").read_text().split("startingwfc")[1]
    assert first_ethr(out) == "1.00E-02"
    assert "convergence has been achieved" in out
    assert e_warm == pytest.approx(e_cold, abs=1e-4)  # eV


def test_paw_with_the_users_outdir_and_prefix(tmp_path):
    atoms = bulk("Ge", "diamond", a=5.66)
    calc = _calc(tmp_path / "ge", "Ge", outdir="scratch", prefix="ge")
    calc.parameters["input_data"]["electrons"]["DIAGO_THR_INIT"] = 1e-4  # the user's, kept
    assert load_family("debian-pbe")["Ge"].kind == "PAW"
    result = espresso_warm_start(calc, atoms)
    save = tmp_path / "ge" / "scratch" / "ge.save"
    assert (save / "paw.txt").is_file() and result.becsum_source == "model"  # the card's
    atoms.calc = calc
    atoms.get_potential_energy()
    out = (tmp_path / "ge" / "espresso.pwo").read_text()
    assert "The initial density is read from file" in out
    assert first_ethr(out) == "1.00E-04"
    assert "convergence has been achieved" in out


def test_unusable_calculators_are_clear_errors(tmp_path):
    atoms = bulk("Si", "diamond", a=5.43)
    calc = _calc(tmp_path / "x", "Si")
    calc.parameters["input_data"]["system"]["nspin"] = 2
    with pytest.raises(InputError, match="nspin"):
        espresso_warm_start(calc, atoms)
    calc = _calc(tmp_path / "x", "Ge")
    with pytest.raises(InputError, match="no pseudopotential for Si"):
        espresso_warm_start(calc, atoms)
    assert not (tmp_path / "x" / "pwscf.save").exists()
