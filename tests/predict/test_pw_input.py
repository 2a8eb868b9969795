"""A hand-written pw.x input from what ``rhocat predict`` prints (docs/warm-start.md, by hand).

The printed lines are the whole contract: the test parses them, writes a pw.x
input around them like a user would, runs the real pw.x, and checks that pw.x
read the predicted density and converged to the energy of its own atomic start.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from rhocat.cli.main import main
from rhocat.structures.convert import to_atoms

pytestmark = pytest.mark.needs_pw

SI_CIF = """data_Si
_cell_length_a 3.8395
_cell_length_b 3.8395
_cell_length_c 3.8395
_cell_angle_alpha 60
_cell_angle_beta 60
_cell_angle_gamma 60
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Si1 0.0 0.0 0.0
Si2 0.25 0.25 0.25
"""


def _hand_input(lines: list[str], atoms, startingpot: str, outdir: str | None = None) -> str:
    text = "\n".join(lines)
    outdir_m, prefix = re.search(r"outdir = '([^']+)', prefix = '([^']+)'", text).groups()
    wfc, rho = re.search(r"ecutwfc = ([\d.]+), ecutrho = ([\d.]+)", text).groups()
    assert re.search(r"startingpot = 'file'", text)
    thr = re.search(r"diago_thr_init = ([\d.e+-]+)", text).group(1)
    pseudo_dir = re.search(r"pseudo_dir = '([^']+)'", text).group(1)
    i = next(n for n, line in enumerate(lines) if "ATOMIC_SPECIES" in line)
    j = next(n for n, line in enumerate(lines) if "CELL_PARAMETERS" in line)
    species = [line.strip() for line in lines[i + 1 : j]]
    cell = [line.strip() for line in lines[j + 1 : j + 4]]
    positions = [
        f"{s} " + " ".join(f"{x:.10f}" for x in p)
        for s, p in zip(atoms.get_chemical_symbols(), atoms.positions, strict=True)
    ]
    return "\n".join(
        [
            "&CONTROL",
            "  calculation = 'scf'",
            f"  outdir = '{outdir or outdir_m}'",
            f"  prefix = '{prefix}'",
            f"  pseudo_dir = '{pseudo_dir}'",
            "/",
            "&SYSTEM",
            f"  ibrav = 0, nat = {len(atoms)}, ntyp = {len(species)}",
            f"  ecutwfc = {wfc}, ecutrho = {rho}, nspin = 1",
            "  occupations = 'smearing', smearing = 'cold', degauss = 0.02",
            "/",
            "&ELECTRONS",
            "  conv_thr = 1.0d-9",
            f"  startingpot = '{startingpot}'",
            f"  diago_thr_init = {thr}",
            "/",
            "ATOMIC_SPECIES",
            *species,
            "CELL_PARAMETERS angstrom",
            *cell,
            "ATOMIC_POSITIONS angstrom",
            *positions,
            "K_POINTS automatic",
            "  4 4 4 0 0 0",
            "",
        ]
    )


def _pw(workdir, text: str) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "pw.in").write_text(text)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        ["pw.x", "-in", "pw.in"], cwd=workdir, capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stdout[-2000:]
    return run.stdout


def _energy(stdout: str) -> float:
    return float(re.findall(r"!\s+total energy\s+=\s+(-?[\d.]+) Ry", stdout)[-1])


def test_printed_lines_make_a_working_hand_written_input(tmp_path, capsys):
    (tmp_path / "si.cif").write_text(SI_CIF)
    save = tmp_path / "run" / "si.save"
    args = [
        "predict",
        str(tmp_path / "si.cif"),
        "-o",
        str(save),
        "--ecutwfc",
        "20",
        "--ecutrho",
        "160",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out.splitlines()
    assert any("pw.x reads this start by position" in line for line in printed)
    meta = json.loads((save / "prediction.json").read_text())
    req = meta["requirements"]
    assert req["pw_input"]["control"] == {"outdir": str(tmp_path / "run"), "prefix": "si"}
    assert req["pw_input"]["system"] == {"ecutwfc": 20.0, "ecutrho": 160.0, "nspin": 1}
    assert req["assumed"]["ecutrho_ry"] == meta["ecutrho_ry"] == 160.0
    assert req["assumed"]["fft_grid"] == meta["fft_grid"]
    assert req["assumed"]["pseudopotentials"]["Si"]["md5"]
    assert req["pw_input"]["electrons"]["startingwfc"] == meta["startingwfc"] == "atomic"
    assert any("startingwfc = 'atomic'" in line for line in printed)

    atoms = to_atoms(tmp_path / "si.cif")
    warm = _pw(tmp_path / "run", _hand_input(printed, atoms, "file"))
    assert "The initial density is read from file" in warm
    assert "convergence has been achieved" in warm
    cold = _pw(tmp_path / "cold", _hand_input(printed, atoms, "atomic", outdir="./out"))
    assert "The initial density is read from file" not in cold
    assert _energy(warm) == pytest.approx(_energy(cold), abs=2e-6)


def test_a_folder_not_named_save_says_to_copy_it(tmp_path, capsys):
    (tmp_path / "si.cif").write_text(SI_CIF)
    assert main(["predict", str(tmp_path / "si.cif"), "-o", str(tmp_path / "pred")]) == 0
    out = capsys.readouterr().out
    assert "OUTDIR/PREFIX.save" in out
    meta = json.loads((tmp_path / "pred" / "prediction.json").read_text())
    assert meta["requirements"]["pw_input"]["control"] == {"outdir": None, "prefix": None}
    assert meta["requirements"]["pw_input"]["system"]["ecutrho"] == 240.0  # debian-pbe Si


def test_warm_start_electrons_sets_the_threshold_unless_the_user_did():
    from rhocat.predict.pwinput import warm_start_electrons

    assert warm_start_electrons(None, 1e-2) == {"startingpot": "file", "diago_thr_init": 1e-2}
    given = {"conv_thr": 1e-9, "startingpot": "atomic"}
    out = warm_start_electrons(given, 1e-5)
    assert out == {"conv_thr": 1e-9, "startingpot": "file", "diago_thr_init": 1e-5}
    assert given["startingpot"] == "atomic"  # a copy: the caller's dict is left alone
    assert warm_start_electrons({"DIAGO_THR_INIT": 1e-4}, 1e-2) == {
        "DIAGO_THR_INIT": 1e-4,
        "startingpot": "file",
    }
    assert warm_start_electrons(None, 1e-2, "atomic") == {
        "startingpot": "file",
        "diago_thr_init": 1e-2,
        "startingwfc": "atomic",
    }
    mine = warm_start_electrons({"STARTINGWFC": "random"}, 1e-2, "atomic")
    assert mine == {"STARTINGWFC": "random", "startingpot": "file", "diago_thr_init": 1e-2}


def test_startingwfc_is_the_model_cards_else_pw_x_own():
    from rhocat.models import RadialModel
    from rhocat.predict.core import STARTINGWFC_KEY, warm_startingwfc
    from rhocat.pretrained import load_pretrained

    plain = RadialModel({}, [14])
    assert warm_startingwfc(plain) is None  # nobody measured it: pw.x's own
    plain.metadata[STARTINGWFC_KEY] = "atomic"
    assert warm_startingwfc(plain) == "atomic"
    assert warm_startingwfc(plain, fallback=True) is None  # the ACS replays pw.x's start
    for bad in ("ATOMIC", "file", 1, None):
        plain.metadata[STARTINGWFC_KEY] = bad
        assert warm_startingwfc(plain) is None
    assert warm_startingwfc(load_pretrained()) == "atomic"  # chosen on validation cells


def test_the_shipped_card_hands_pw_x_the_models_own_occupations():
    from rhocat.predict.core import warm_occupations
    from rhocat.pretrained import load_pretrained

    # chosen on validation for this density (docs/ablation.md, the radial pair mode)
    assert warm_occupations(load_pretrained()) == "model"


def test_first_threshold_is_the_model_cards_else_pw_x_file_default():
    from rhocat.models import RadialModel
    from rhocat.predict.core import FIRST_THRESHOLD_KEY, first_threshold
    from rhocat.pretrained import load_pretrained

    plain = RadialModel({}, [14])
    assert first_threshold(plain) == 1e-5  # nobody measured it: pw.x's own for a file
    assert first_threshold(plain, fallback=True) == 1e-2  # the ACS: pw.x's atomic start's
    plain.metadata[FIRST_THRESHOLD_KEY] = 1e-3
    assert first_threshold(plain) == 1e-3
    for bad in (0, -1.0, "1e-2", True, None):
        plain.metadata[FIRST_THRESHOLD_KEY] = bad
        assert first_threshold(plain) == 1e-5
    assert first_threshold(load_pretrained()) == 1e-2  # chosen on validation cells
