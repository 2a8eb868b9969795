"""The shipped pretrained model still loads, refuses what it does not cover, and still
beats the ACS on two structures whose element combination it never saw in training."""

from __future__ import annotations

import numpy as np
import pytest

from rhocat.errors import ModelError
from rhocat.pretrained import load_pretrained, training_card
from rhocat.qe.density import read_charge_density
from rhocat.qe.gvectors import g_cartesian
from rhocat.qe.scf import run_scf
from rhocat.qe.start import BOHR_PER_ANGSTROM, acs_density, cell_bohr
from rhocat.structures import build

#: Held out of the benchmark's training split (test_binary): ultrasoft species only.
HELD_OUT = [("zincblende", ("B", "C")), ("CsCl", ("Fe", "Si"))]


def test_card_describes_the_checkpoint():
    card = training_card()
    model = load_pretrained()
    assert card["kind"] == "ensemble" and len(model.members) == 5
    assert card["validation"]["captured_mean_pct"] > 50.0
    # the held-out combinations below are absent from the card's training combinations
    trained = set(card["train_systems"])
    assert not {"-".join(sorted(e)) for _, e in HELD_OUT} & trained
    assert set(card["elements"]) >= {"Si", "Cu", "B", "C"}
    assert card["structures_per_split"]["train"] > 10
    assert card["metadata"]["pseudo_md5"]["Si"] == model.metadata["pseudo_md5"]["Si"]


def test_load_model_without_a_path_is_the_shipped_model():
    from rhocat.train import load_model

    model = load_model()
    assert model.metadata == load_pretrained().metadata
    assert model.metadata["pseudo_md5"]["Si"] == training_card()["metadata"]["pseudo_md5"]["Si"]


def test_unseen_element_is_refused():
    with pytest.raises(ModelError):
        load_pretrained().check_elements(["Au", "Si"])


def _hartree_error(delta_g: np.ndarray, g: np.ndarray) -> float:
    g2 = (g**2).sum(axis=1)
    keep = g2 > 1e-12
    return float((np.abs(delta_g[keep]) ** 2 / g2[keep]).sum())


@pytest.mark.slow
@pytest.mark.needs_pw
@pytest.mark.parametrize("prototype,elements", HELD_OUT)
def test_beats_the_acs_on_held_out_structures(prototype, elements, tmp_path):
    from rhocat.models import predict_delta_rho_g

    card = training_card()
    overrides = card["dataset_manifest"]["overrides"]
    atoms = build(prototype, elements)
    ref = run_scf(atoms, workdir=tmp_path, overrides=overrides)
    assert ref.converged, ref.reason
    truth = read_charge_density(f"{ref.save_dir}/charge-density.dat")
    ecutrho = ref.parameters["system"]["ecutrho"]
    acs = acs_density(atoms, "debian-pbe", ecutrho)
    assert np.array_equal(acs.miller, truth.miller)
    model = load_pretrained()
    model.check_elements(atoms.get_chemical_symbols())
    delta = predict_delta_rho_g(
        model, atoms.numbers, atoms.positions * BOHR_PER_ANGSTROM, cell_bohr(atoms), acs.miller
    )
    g = g_cartesian(cell_bohr(atoms), acs.miller)
    err_acs = _hartree_error(acs.rho_g[0] - truth.rho_g[0], g)
    err_model = _hartree_error(acs.rho_g[0] + delta - truth.rho_g[0], g)
    assert err_model < err_acs


@pytest.mark.slow
def test_cli_predict_without_model_uses_the_shipped_one(tmp_path):
    import subprocess
    import sys

    from ase.build import bulk

    good, bad = tmp_path / "sic.cif", tmp_path / "au.cif"
    build("zincblende", ("Si", "C")).write(good)
    bulk("Au", "fcc", a=4.08).write(bad)
    cmd = [sys.executable, "-m", "rhocat.cli.main", "predict"]
    ok = subprocess.run(
        cmd + [str(good), "-o", str(tmp_path / "out")], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "ensemble uncertainty" in ok.stdout  # the shipped model says how sure it is
    written = list((tmp_path / "out").rglob("charge-density.dat"))
    assert len(written) == 1 and written[0].stat().st_size > 1000
    refused = subprocess.run(
        cmd + [str(bad), "-o", str(tmp_path / "out-au")], capture_output=True, text=True
    )
    assert refused.returncode == 2 and "Au" in refused.stderr and "Traceback" not in refused.stderr
    assert not list((tmp_path / "out-au").rglob("charge-density.dat"))


def test_demo_judges_the_shipped_model_only_on_combinations_it_never_saw():
    from pathlib import Path

    from rhocat.data.store import Dataset
    from rhocat.demo import shipped_test_ids
    from rhocat.pretrained import trained_systems

    data = Path(__file__).resolve().parents[2] / "benchmarks" / "dataset" / "dataset"
    if not data.is_dir():
        pytest.skip("no benchmark dataset in this tree")
    with Dataset(data) as ds:
        ids, why = shipped_test_ids(ds)
        assert ids, why
        seen = trained_systems()
        for i in ids:
            row = ds.row(i)
            assert row.split.startswith("test")
            assert tuple(sorted(row.element_list)) not in seen
