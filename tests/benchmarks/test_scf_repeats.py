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


def test_a_file_of_runs_with_another_startingwfc_is_refused(tmp_path, capsys):
    """Runs of pw.x's default startingwfc and of 'atomic' never mix in one output file."""
    import json

    out = tmp_path / "o.json"
    out.write_text(json.dumps({"threshold": "0.01", "rows": {"x": {"acs": 9, "0.001": 8}}}))
    argv = ["m.pt", "--ids", "x", "--threshold", "0.01", "--startingwfc", "atomic",
            "-o", str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        scf_repeats.main(argv)
    assert exc.value.code == 2 and "startingwfc = None, not 'atomic'" in capsys.readouterr().err
    assert json.loads(out.read_text())["rows"]["x"]["0.001"] == 8  # untouched


def test_a_file_of_runs_with_the_cards_occupations_refuses_atomic_ones(tmp_path, capsys):
    """Warm starts with the model's PAW occupations and with atomic ones never mix in one
    output file (docs/scf-starts.md §7)."""
    import json

    out = tmp_path / "o.json"
    rows = {"x": {"acs": 9, "0.001": 8}}
    out.write_text(json.dumps({"threshold": "0.01", "startingwfc": "atomic", "rows": rows}))
    argv = ["m.pt", "--ids", "x", "--threshold", "0.01", "--startingwfc", "atomic",
            "--occupations", "atomic", "-o", str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        scf_repeats.main(argv)
    assert exc.value.code == 2 and "occupations = None, not 'atomic'" in capsys.readouterr().err
    assert json.loads(out.read_text())["rows"] == rows  # untouched


def test_with_occupations_sets_the_card_the_way_a_shipped_card_would():
    from first_threshold import with_occupations

    from rhocat.predict.core import warm_occupations
    from rhocat.pretrained import load_pretrained

    model = load_pretrained()
    shipped = warm_occupations(model)  # chosen on validation
    other = {"model": "atomic", "atomic": "model"}[shipped]
    card = dict(model.metadata)
    assert warm_occupations(with_occupations(model, None)) == shipped
    assert warm_occupations(with_occupations(model, other)) == other
    assert {k: v for k, v in model.metadata.items() if k != "warm_occupations"} == {
        k: v for k, v in card.items() if k != "warm_occupations"
    }  # the rest kept
    assert model.metadata == card  # the caller's model keeps its own card


@pytest.mark.needs_pw
def test_warm_runs_take_the_startingwfc_given(tmp_path):
    """first_threshold.warm_iterations on diamond Si: pw.x's input of the warm start holds
    the startingwfc given (here pw.x's own, over the shipped card's 'atomic') and the
    first threshold, and the run converges."""
    import first_threshold

    from rhocat.pretrained import load_pretrained
    from rhocat.qe.inputs import pw_parameters
    from rhocat.qe.pseudo import load_family
    from tests.conftest import entry_sample

    atoms = bulk("Si", "diamond", a=5.43)
    family = load_family("debian-pbe")
    params = pw_parameters(atoms, family, overrides=LOW_CUTOFF)
    sample = entry_sample(atoms, "Si", parameters=params, iterations=7)
    row = first_threshold.warm_iterations(
        load_pretrained(), sample, family, tmp_path, ["0.01"], 1, startingwfc="atomic+random"
    )
    assert row["acs"] == 7 and isinstance(row["0.01"], int) and row["0.01"] > 0
    text = (tmp_path / "warm-0.01" / "pw.in").read_text()
    assert "startingwfc = 'atomic+random'" in text.replace('"', "'")
    assert "diago_thr_init" in text
    assert first_threshold.warm_overrides("file") == {"electrons": {"diago_thr_init": 1e-5}}
