"""``rhocat predict``: a real checkpoint (an untrained radial model), structure files, errors."""

from __future__ import annotations

import json

import ase.io
import pytest
from ase.build import bulk

from rhocat.cli.main import main


@pytest.fixture
def checkpoint(tmp_path):
    from rhocat.models import RadialModel
    from rhocat.train import save_checkpoint
    from rhocat.train.checkpoint import checkpoint_dict

    model = RadialModel({}, [14, 6])  # Si, C; the table is zero: Δρ = 0
    return save_checkpoint(tmp_path / "radial.pt", checkpoint_dict(model))


def test_predict_one_structure(tmp_path, checkpoint, capsys):
    ase.io.write(tmp_path / "si.cif", bulk("Si", "diamond", a=5.43))
    out = tmp_path / "restart"
    rc = main(
        [
            "predict",
            str(checkpoint),
            str(tmp_path / "si.cif"),
            "-o",
            str(out),
            "--cube",
            str(tmp_path / "si.cube"),
            "--json",
        ]
    )
    assert rc == 0
    assert (out / "charge-density.dat").is_file() and (tmp_path / "si.cube").is_file()
    printed = json.loads(capsys.readouterr().out)
    assert printed[0]["name"] == "si" and printed[0]["n_electrons"] == 8.0


def test_predict_a_folder_of_structures(tmp_path, checkpoint):
    (tmp_path / "in").mkdir()
    ase.io.write(tmp_path / "in" / "si.cif", bulk("Si", "diamond", a=5.43))
    ase.io.write(tmp_path / "in" / "sic.cif", bulk("SiC", "zincblende", a=4.36))
    assert main(["predict", str(checkpoint), str(tmp_path / "in"), "-o", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "si" / "charge-density.dat").is_file()
    assert (tmp_path / "o" / "sic" / "charge-density.dat").is_file()


def test_predict_errors_are_one_line_exit_2(tmp_path, checkpoint, capsys):
    ase.io.write(tmp_path / "ge.cif", bulk("Ge", "diamond", a=5.66))
    rc = main(["predict", str(checkpoint), str(tmp_path / "ge.cif"), "-o", str(tmp_path / "g")])
    err = capsys.readouterr().err
    assert rc == 2 and "never saw" in err and "Ge" in err and "Traceback" not in err
    assert not (tmp_path / "g").exists()
    (tmp_path / "junk.cif").write_text("not a crystal\n")
    assert (
        main(["predict", str(checkpoint), str(tmp_path / "junk.cif"), "-o", str(tmp_path / "j")])
        == 2
    )
    assert (
        main(["predict", str(checkpoint), str(tmp_path / "missing.cif"), "-o", str(tmp_path / "m")])
        == 2
    )
    (tmp_path / "trunc.pt").write_bytes(b"PK\x03\x04garbage")
    ase.io.write(tmp_path / "si.cif", bulk("Si", "diamond", a=5.43))
    assert (
        main(
            [
                "predict",
                str(tmp_path / "trunc.pt"),
                str(tmp_path / "si.cif"),
                "-o",
                str(tmp_path / "t"),
            ]
        )
        == 2
    )
    assert "rhocat: error:" in capsys.readouterr().err


def test_predict_and_scf_resolve_ecutwfc_alike(tmp_path, checkpoint, capsys):
    """`--ecutwfc 20` means ecutrho 160 Ry for predict as for scf: the same G list."""
    from rhocat.qe.gvectors import miller_indices
    from rhocat.qe.inputs import cutoff_overrides, pw_parameters
    from rhocat.qe.start import cell_bohr

    atoms = bulk("Si", "diamond", a=5.43)
    ase.io.write(tmp_path / "si.cif", atoms)
    argv = ["predict", str(checkpoint), str(tmp_path / "si.cif"), "-o", str(tmp_path / "r")]
    assert main([*argv, "--ecutwfc", "20", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)[0]
    assert cutoff_overrides(20.0) == {"ecutwfc": 20.0, "ecutrho": 160.0}
    params = pw_parameters(atoms, overrides=cutoff_overrides(20.0))  # what `rhocat scf` runs
    assert params["system"]["ecutrho"] == 160.0
    assert printed["ngm"] == len(miller_indices(cell_bohr(atoms), 160.0))
    assert main([*argv[:-2], "-o", str(tmp_path / "r0"), "--json"]) == 0  # family cutoffs
    assert json.loads(capsys.readouterr().out)[0]["ngm"] > printed["ngm"]  # Si: 30 Ry × 8
