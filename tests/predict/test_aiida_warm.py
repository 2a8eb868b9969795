"""The AiiDA warm start for real: PwBaseWorkChain from rhocat's prediction, throwaway profile."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from rhocat.qe import aiida as ra
from tests.conftest import LOW_CUTOFF

pytestmark = [pytest.mark.aiida, pytest.mark.needs_pw]


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    with ra.temporary_profile(tmp_path_factory.mktemp("aiida-warm")) as prof:
        yield prof


@pytest.fixture(scope="module")
def setup(profile):
    computer = ra.ensure_computer("localhost")
    return ra.ensure_code("pw.x", computer), ra.ensure_pseudo_family("debian-pbe")


def _builder(atoms, setup):
    from rhocat.qe.aiida_run import scf_builder
    from rhocat.qe.inputs import pw_parameters

    code, group = setup
    params = pw_parameters(atoms, overrides=LOW_CUTOFF)
    return scf_builder(atoms, params, code=code, group=group, ranks=1)


def _stdout(node) -> str:
    from rhocat.qe.aiida_run import _last_calcjob

    calc = _last_calcjob(node)
    return calc.outputs.retrieved.base.repository.get_object_content("aiida.out")


def test_structure_data_goes_where_atoms_go(profile, tmp_path):
    from aiida import orm

    from rhocat.predict import predict_restart
    from rhocat.pretrained import load_pretrained
    from rhocat.structures.convert import to_atoms

    atoms = bulk("GaAs", "zincblende", a=5.65)
    structure = orm.StructureData(ase=atoms)
    back = to_atoms(structure)
    assert back.get_chemical_symbols() == ["Ga", "As"]
    np.testing.assert_allclose(back.cell.array, atoms.cell.array, atol=1e-12)
    np.testing.assert_allclose(back.positions, atoms.positions, atol=1e-12)
    model = load_pretrained()
    a = predict_restart(model, structure, out_dir=tmp_path / "a", overrides=LOW_CUTOFF)
    b = predict_restart(model, atoms, out_dir=tmp_path / "b", overrides=LOW_CUTOFF)
    assert (tmp_path / "a/charge-density.dat").read_bytes() == (
        tmp_path / "b/charge-density.dat"
    ).read_bytes()
    assert (tmp_path / "a/paw.txt").read_text() == (tmp_path / "b/paw.txt").read_text()
    assert a.becsum_source == b.becsum_source == "model"  # the shipped card's choice


def test_pw_base_work_chain_from_the_prediction_reaches_the_same_energy(setup):
    from aiida.engine import run_get_node

    from rhocat.evaluate.results import file_sha256
    from rhocat.predict.aiida import ATTR_CARD, ATTR_PREDICTION, ATTR_SHA, warm_start
    from rhocat.pretrained import DEFAULT_CHECKPOINT, training_card

    atoms = bulk("Si", "diamond", a=5.43)
    _, cold = run_get_node(_builder(atoms, setup))
    builder = warm_start(_builder(atoms, setup))  # the one line a user adds
    assert builder.pw.parameters["ELECTRONS"]["startingpot"] == "file"
    assert builder.pw.parameters["ELECTRONS"]["diago_thr_init"] == 1e-2
    assert builder.pw.parameters["ELECTRONS"]["startingwfc"] == "atomic"
    _, warm = run_get_node(builder)
    assert cold.is_finished_ok and warm.is_finished_ok, (cold.exit_message, warm.exit_message)
    assert "The initial density is read from file" in _stdout(warm)
    assert "The initial density is read from file" not in _stdout(cold)
    e_cold = cold.outputs.output_parameters["energy"]
    e_warm = warm.outputs.output_parameters["energy"]
    assert abs(e_warm - e_cold) <= 1e-9 * abs(e_cold), (e_warm, e_cold)

    # provenance: PwCalculation <- RemoteData <- core.transfer <- FolderData (model checksum, card)
    remote = warm.inputs.pw.parent_folder
    transfer = remote.creator
    assert transfer.process_type == "aiida.calculations:core.transfer"
    folder = transfer.inputs.source_nodes.prediction
    assert folder.base.attributes.get(ATTR_SHA) == file_sha256(DEFAULT_CHECKPOINT)
    assert remote.base.extras.get(ATTR_SHA) == file_sha256(DEFAULT_CHECKPOINT)
    card = folder.base.attributes.get(ATTR_CARD)  # AiiDA keeps floats to 14 digits
    assert card["elements"] == training_card()["elements"]
    assert card["kind"] == training_card()["kind"]
    assert card["metadata"]["pseudo_md5"] == training_card()["metadata"]["pseudo_md5"]
    pred = folder.base.attributes.get(ATTR_PREDICTION)
    assert pred["ecutrho_ry"] == 160.0 and pred["n_electrons"] == 8.0
    assert set(folder.base.repository.list_object_names("out/aiida.save")) == {"charge-density.dat"}


def test_paw_start_carries_the_predicted_occupations(setup):
    from aiida.engine import run_get_node

    from rhocat.predict.aiida import warm_start

    atoms = bulk("Ge", "diamond", a=5.66)
    _, warm = run_get_node(warm_start(_builder(atoms, setup)))
    assert warm.is_finished_ok, warm.exit_message
    folder = warm.inputs.pw.parent_folder.creator.inputs.source_nodes.prediction
    assert "paw.txt" in folder.base.repository.list_object_names("out/aiida.save")
    assert "The initial density is read from file" in _stdout(warm)


def test_bad_builders_are_clear_errors(setup):
    from rhocat.errors import InputError
    from rhocat.predict.aiida import warm_start

    builder = _builder(bulk("Si", "diamond", a=5.43), setup)
    params = builder.pw.parameters.get_dict()
    params["SYSTEM"]["nspin"] = 2
    from aiida import orm

    builder.pw.parameters = orm.Dict(params)
    with pytest.raises(InputError, match="nspin"):
        warm_start(builder)
