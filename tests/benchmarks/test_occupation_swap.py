"""benchmarks/occupation_swap.py: predicted or ACS density × model or atomic occupations."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from tests.benchmarks.shared import DATASET, needs_dataset
from tests.conftest import LOW_CUTOFF

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import occupation_swap  # noqa: E402


@pytest.fixture
def gaas(tmp_path):
    """GaAs (both species PAW), rhocat's warm start at low cutoffs."""
    from first_threshold import with_occupations

    from rhocat.predict import predict_restart
    from rhocat.pretrained import load_pretrained
    from rhocat.qe.pseudo import load_family

    atoms = bulk("GaAs", "zincblende", a=5.65)
    own = with_occupations(load_pretrained(), "model")  # the card asks for atomic ones
    pred = predict_restart(own, atoms, out_dir=tmp_path / "p", overrides=LOW_CUTOFF)
    return atoms, load_family("debian-pbe"), Path(pred.restart_dir)


def test_four_starts_hold_the_density_and_occupations_they_name(gaas, tmp_path):
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.paw import read_paw_txt
    from rhocat.qe.start import acs_like

    atoms, family, pred_dir = gaas
    folders = occupation_swap.swapped_starts(pred_dir, atoms, family, [0.0, 1e-3], tmp_path / "w")
    assert sorted(folders) == sorted(
        (s, e) for s in occupation_swap.STARTS for e in ("0.0", "0.001")
    )
    pred = read_charge_density(pred_dir / "charge-density.dat")
    acs = acs_like(pred, atoms, family)
    model_occ = read_paw_txt(pred_dir / "paw.txt", len(atoms)).values
    atomic_occ = atomic_becsum(atoms, family).values
    assert not np.allclose(model_occ, atomic_occ)  # the model moves the occupations
    for (name, eps), folder in folders.items():
        rho, occ = name.split("+")
        want = (pred if rho == "pred" else acs).rho_g[0]
        got = read_charge_density(folder / "charge-density.dat").rho_g[0]
        g0 = ~pred.miller.any(axis=1)
        np.testing.assert_allclose(got[g0], want[g0], rtol=1e-12)  # the charge is kept
        np.testing.assert_allclose(got[~g0], want[~g0] * (1 + float(eps)), rtol=1e-9, atol=1e-14)
        values = read_paw_txt(folder / "paw.txt", len(atoms)).values
        np.testing.assert_allclose(values, model_occ if occ == "model" else atomic_occ, atol=1e-14)
    assert (pred_dir / "paw.txt").read_text() != (
        folders["pred+atomic", "0.0"] / "paw.txt"
    ).read_text()


def test_extra_starts_hold_the_reference_halves_and_the_midway_occupations(gaas, tmp_path):
    import dataclasses

    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.paw import Becsum, read_paw_txt

    atoms, family, pred_dir = gaas
    pred = read_charge_density(pred_dir / "charge-density.dat")
    ref = dataclasses.replace(pred, rho_g=pred.rho_g * 1.01)  # stands in for a converged run
    atomic = atomic_becsum(atoms, family).values
    converged = Becsum(1.05 * atomic)
    extra = ("pred+converged", "ref+atomic", "pred+half", "ref25+converged")
    folders = occupation_swap.swapped_starts(
        pred_dir, atoms, family, [0.0], tmp_path / "w", extra, (ref, converged)
    )
    assert sorted(n for n, _ in folders) == sorted(occupation_swap.STARTS + extra)
    model_occ = read_paw_txt(pred_dir / "paw.txt", len(atoms)).values

    def occ(name):
        return read_paw_txt(folders[name, "0.0"] / "paw.txt", len(atoms)).values

    def rho(name):
        return read_charge_density(folders[name, "0.0"] / "charge-density.dat").rho_g

    np.testing.assert_allclose(occ("pred+converged"), converged.values, atol=1e-14)
    np.testing.assert_allclose(occ("pred+half"), 0.5 * (model_occ + atomic), atol=1e-14)
    np.testing.assert_allclose(occ("ref+atomic"), atomic, atol=1e-14)
    np.testing.assert_array_equal(rho("ref+atomic"), ref.rho_g)
    np.testing.assert_array_equal(rho("pred+half"), pred.rho_g)
    np.testing.assert_allclose(rho("ref25+converged"), ref.rho_g + 0.25 * (pred.rho_g - ref.rho_g))
    np.testing.assert_allclose(occ("ref25+converged"), converged.values, atol=1e-14)
    with pytest.raises(ValueError, match="reference run"):
        occupation_swap.swapped_starts(pred_dir, atoms, family, [0.0], tmp_path / "x", extra)


def test_extra_starts_are_parsed_and_unknown_ones_refused():
    assert occupation_swap.parse_extra("pred+converged, ref+atomic") == (
        "pred+converged",
        "ref+atomic",
    )
    assert occupation_swap.parse_extra("") == ()
    assert occupation_swap.parse_extra("ref25+atomic,ref50+converged") == (
        "ref25+atomic",
        "ref50+converged",
    )
    for bad in ("pred", "exact+atomic", "ref+random", "ref5+atomic", "ref250+atomic"):
        with pytest.raises(ValueError, match="DENSITY\\+OCCUPATIONS"):
            occupation_swap.parse_extra(bad)


@needs_dataset
def test_converged_occupations_come_from_the_reference_run():
    from rhocat.data.store import Dataset
    from rhocat.qe.density import ChargeDensity

    ds = Dataset(DATASET)
    sample = ds.load("zincblende-CrN")
    crn = occupation_swap.converged_becsum(sample)
    assert crn.values.shape[:2] == (1, 2) and np.abs(crn.values).sum() > 0
    assert occupation_swap.converged_becsum(ds.load("L12-CuRh3")) is None  # no PAW species
    like = ChargeDensity(miller=sample.miller, rho_g=np.zeros_like(sample.rho_g), b=np.eye(3))
    rho, occ = occupation_swap.reference_start(sample, like)
    np.testing.assert_array_equal(rho.rho_g, sample.rho_g)
    np.testing.assert_array_equal(occ.values, crn.values)
    with pytest.raises(ValueError, match="G vectors"):
        occupation_swap.reference_start(
            sample, ChargeDensity(miller=sample.miller[::-1], rho_g=like.rho_g, b=np.eye(3))
        )


def test_without_paw_species_only_the_warm_start_and_the_acs(tmp_path):
    from rhocat.predict import predict_restart
    from rhocat.pretrained import load_pretrained
    from rhocat.qe.pseudo import load_family

    atoms = bulk("Si", "diamond", a=5.43)
    pred = predict_restart(load_pretrained(), atoms, out_dir=tmp_path / "p", overrides=LOW_CUTOFF)
    folders = occupation_swap.swapped_starts(
        Path(pred.restart_dir), atoms, load_family("debian-pbe"), [0.0], tmp_path / "w"
    )
    assert sorted(folders) == [("acs+atomic", "0.0"), ("pred+model", "0.0")]


def _row(**starts) -> dict:
    return {
        s.replace("_", "+"): dict(zip(("-0.001", "0.0", "0.001"), v, strict=True))
        for s, v in starts.items()
    }


def test_summary_compares_each_start_with_the_noise_free_acs():
    rows = {
        "a": _row(
            pred_model=(14, 20, 26),
            pred_atomic=(12, 12, 13),
            acs_model=(15, 15, 15),
            acs_atomic=(13, 13, 13),
        ),
        "b": _row(
            pred_model=(9, 9, 9),
            pred_atomic=(9, 10, 9),
            acs_model=(11, 11, 12),
            acs_atomic=(11, 12, 11),
        ),
        "lost": _row(
            pred_model=(9, None, 9),
            pred_atomic=(9, 9, 9),
            acs_model=(9, 9, 9),
            acs_atomic=(9, 9, 9),
        ),
    }
    s = occupation_swap.summarize(rows)
    assert s["cells"] == 2 and s["cells_with_occupations"] == 2
    assert s["pred+model"]["iterations"] == pytest.approx(20 + 9)
    assert s["pred+model"]["range_mean"] == 6.0 and s["pred+model"]["range_max"] == 12
    assert s["pred+model"]["slower_cells"] == ["a"]
    assert s["pred+model"]["runs_not_converged"] == 1
    assert s["pred+atomic"]["slower_cells"] == [] and s["acs+atomic"]["slower_cells"] == []
    assert s["acs+model"]["slower_cells"] == ["a"]
    assert s["acs+atomic"]["range_mean"] == 0.5
    assert "pred+converged" not in s  # only the starts that were run
    rows["b"]["pred+converged"] = {"-0.001": 8, "0.0": 8, "0.001": 9}
    assert occupation_swap.summarize(rows)["pred+converged"]["iterations"] == pytest.approx(25 / 3)


def test_a_file_of_runs_at_another_threshold_is_refused(tmp_path, capsys):
    out = tmp_path / "o.json"
    out.write_text(json.dumps({"threshold": "file", "rows": {"x": {"pred+model": {"0.0": 9}}}}))
    with pytest.raises(SystemExit) as exc:
        occupation_swap.main(["m.pt", "--ids", "x", "-o", str(out)])
    assert exc.value.code == 2 and "threshold = 'file', not '0.01'" in capsys.readouterr().err
    assert json.loads(out.read_text())["rows"]["x"]["pred+model"]["0.0"] == 9  # untouched


@pytest.mark.needs_pw
def test_pw_runs_every_start_once_and_a_resume_runs_none(gaas, tmp_path):
    """Four starts at ε = 0 on GaAs, real pw.x; a second call with the first's rows runs
    no pw.x."""
    from rhocat.pretrained import load_pretrained
    from rhocat.qe.inputs import pw_parameters
    from tests.conftest import entry_sample

    atoms, family, _ = gaas
    params = pw_parameters(atoms, family, overrides=LOW_CUTOFF)
    sample = entry_sample(atoms, "GaAs", parameters=params)
    model = load_pretrained()
    out = occupation_swap.swap_iterations(
        model, sample, family, tmp_path / "r", [0.0], "0.01", "atomic", 1
    )
    assert sorted(out) == sorted(occupation_swap.STARTS)
    assert all(v["0.0"] and v["0.0"] > 0 for v in out.values())
    inputs = list((tmp_path / "r").rglob("pw.in"))
    assert len(inputs) == 4
    assert all("startingwfc = 'atomic'" in p.read_text() for p in inputs)
    again = occupation_swap.swap_iterations(
        model, sample, family, tmp_path / "r2", [0.0], "0.01", "atomic", 1, done=out
    )
    assert again == out and not list((tmp_path / "r2").rglob("pw.in"))
