"""benchmarks/finetune.py: the shipped ensemble fine-tuned on a few benchmark structures."""

from __future__ import annotations

import json

import pytest
import torch

from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import finetune  # benchmarks/ is on the path (tests.benchmarks.shared)

pytestmark = needs_dataset


def test_group_of_reads_the_formula_not_the_prototype():
    assert finetune.group_of("zincblende-CrAs~c1") == "Cr"
    assert finetune.group_of("L10-GaFe") == "Fe"
    assert finetune.group_of("A15-Cr3Fe") == "Cr"  # Cr before Fe
    assert finetune.group_of("CsCl-CuAs") == "other"


def test_oversampling_repeats_the_structures_with_the_element():
    from rhocat.data.store import Dataset

    snap = {"train": ["zincblende-CrAs", "CsCl-CuAs", "CsCl-AsRh"], "val": ["rocksalt-CrN"]}
    got = finetune.training_samples(Dataset(DATASET), snap, {"Cr": 3})
    assert [s.id for s in got] == ["zincblende-CrAs"] * 3 + ["CsCl-CuAs", "CsCl-AsRh"] + [
        "rocksalt-CrN"
    ]
    plain = finetune.training_samples(Dataset(DATASET), snap, {})
    assert [s.id for s in plain] == ["zincblende-CrAs", "CsCl-CuAs", "CsCl-AsRh", "rocksalt-CrN"]


def test_members_are_fine_tuned_and_evaluated_against_the_start(tmp_path):
    from rhocat.train import load_model
    from rhocat.train.ensemble import member_path

    snap = tmp_path / "snap.json"
    snap.write_text(
        json.dumps(
            {
                "train": ["zincblende-CrAs", "CsCl-CuAs"],
                "val": ["rocksalt-CrN", "zincblende-CrC"],
                "test_binary": ["CsCl-AgGe"],
            }
        )
    )
    out = tmp_path / "ft.pt"
    common = [str(DATASET), "--snapshot", str(snap), "--init", str(MODEL), "--steps", "2",
              "--oversample", "Cr=2", "--n-members", "2", "--batch-size", "2",
              "--loss", "hartree_rel", "-o", str(out)]  # fmt: skip
    assert finetune.main([*common, "--members", "0"]) == 0
    with pytest.raises(SystemExit):  # member 1 is missing
        finetune.main([*common, "--members", "", "--evaluate", str(snap)])
    assert finetune.main([*common, "--members", "1", "--evaluate", str(snap),
                          "--compare", str(MODEL)]) == 0  # fmt: skip
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["oversample"] == {"Cr": 2} and report["steps"] == 2
    assert report["batch_size"] == 2 and report["loss"] == "hartree_rel"
    trained_with = load_model(member_path(out, 0)).metadata["train_config"]
    assert trained_with["batch_size"] == 2 and trained_with["loss"] == "hartree_rel"
    for key in ("trained", "compare"):
        r = report[key]
        curve = {float(c): v for c, v in r["val_curve"].items()}
        assert r["chosen_c"] == max(curve, key=curve.get)
        assert r["val"]["n"] == 2 and r["test"]["n"] == 1
        assert r["val"]["groups"]["Cr"]["n"] == 2 and r["val"]["groups"]["other"]["n"] == 0
        assert r["val"]["captured_worst_pct"] == min(r["val"]["cells"].values())
    shipped, tuned = load_model(MODEL), load_model(out)
    assert len(tuned.members) == 2
    for k in range(2):
        a, b = shipped.members[k].state_dict(), tuned.members[k].state_dict()
        assert any(not torch.equal(a[n], b[n]) for n in a)  # moved from member k's weights
    assert report["trained"]["val"]["cells"] != report["compare"]["val"]["cells"]


@needs_dataset
def test_a_member_given_the_charge_head_predicts_as_before_and_then_learns_a_transfer(tmp_path):
    import numpy as np

    from rhocat.data.store import Dataset
    from rhocat.train import load_model
    from rhocat.train.ensemble import member_path

    shipped = load_model(MODEL).member(0)
    net = finetune.with_charge_equilibration(shipped)
    assert net.charge_eq is not None and shipped.charge_eq is None
    smp = Dataset(DATASET).load("zincblende-CrAs")
    g = np.asarray(smp.g_cart)[:300]
    args = (smp.numbers, smp.positions_bohr, smp.cell_bohr, g)
    np.testing.assert_array_equal(net.delta_rho_g(*args), shipped.delta_rho_g(*args))
    assert net.metadata == shipped.metadata

    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps({"train": ["zincblende-CrAs", "CsCl-CuAs"],
                                "val": ["rocksalt-CrN"], "test_binary": []}))  # fmt: skip
    out = tmp_path / "ce.pt"
    argv = [str(DATASET), "--snapshot", str(snap), "--init", str(MODEL), "--steps", "3",
            "--n-members", "2", "--members", "0", "--add-charge-eq", "-o", str(out)]  # fmt: skip
    assert finetune.main(argv) == 0
    tuned = load_model(member_path(out, 0))
    assert tuned.config["charge_equilibration"] is True
    chi = tuned.charge_eq.chi.weight
    assert torch.count_nonzero(chi) > 0  # the head trained away from "no transfer"
    with pytest.raises(SystemExit):  # a head needs members to add it to
        finetune.main([str(DATASET), "--snapshot", str(snap), "--add-charge-eq", "-o", str(out)])


def test_members_from_scratch_take_the_config_and_the_command_line(tmp_path):
    from rhocat.train import load_model
    from rhocat.train.ensemble import member_path

    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps({"train": ["zincblende-CrAs"], "val": ["rocksalt-CrN"]}))
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"model": {"n_layers": 1}, "train": {"lr": 3e-3, "batch_size": 2}}))
    out = tmp_path / "scratch.pt"
    common = [str(DATASET), "--snapshot", str(snap), "--steps", "2", "-o", str(out)]
    assert finetune.main([*common, "--config", str(cfg), "--members", "1", "--lr", "1e-2"]) == 0
    member = load_model(member_path(out, 1))
    assert member.config["n_layers"] == 1
    trained_with = member.metadata["train_config"]
    assert trained_with["lr"] == 1e-2 and trained_with["batch_size"] == 2
    assert trained_with["seed"] == 1 and "fine_tuned_from" not in member.metadata
    offset = tmp_path / "offset.pt"
    argv = [*common[:-1], str(offset), "--config", str(cfg), "--members", "1"]
    assert finetune.main([*argv, "--seed-offset", "5"]) == 0
    assert load_model(member_path(offset, 1)).metadata["train_config"]["seed"] == 6
    with pytest.raises(SystemExit):  # a fine-tuned member keeps its own configuration
        finetune.main([*common, "--config", str(cfg), "--init", str(MODEL), "--members", "0"])


def test_a_fraction_of_the_training_combinations_keeps_whole_combinations(tmp_path):
    from rhocat.data.store import Dataset

    snap = {
        "train": ["zincblende-CrAs", "zincblende-CrAs~c1", "CsCl-CuAs", "CsCl-AsRh"],
        "val": ["rocksalt-CrN"],
    }
    samples = finetune.training_samples(Dataset(DATASET), snap, {})
    half = finetune.keep_combinations(samples, 0.5)
    train = [s.id for s in half if s.split == "train"]
    combos = {i.split("-")[1].split("~")[0] for i in train}
    assert len(combos) == 2  # half of 3 combinations, rounded
    # every structure of a kept combination is kept (a copy goes with its cell)
    assert train == [i for i in snap["train"] if i.split("-")[1].split("~")[0] in combos]
    third = finetune.keep_combinations(samples, 1 / 3, seed=1)
    assert len({s.id.split("~")[0] for s in third if s.split == "train"}) == 1
    assert [s.id for s in half if s.split == "val"] == ["rocksalt-CrN"]
    assert finetune.keep_combinations(samples, 0.5) == half  # seeded
    snapshot = tmp_path / "snap.json"  # a missing snapshot would be written on first use
    with pytest.raises(SystemExit):  # refused before any data is read
        finetune.main([str(DATASET), "--snapshot", str(snapshot), "--combinations", "0",
                       "-o", str(tmp_path / "x.pt")])  # fmt: skip
    assert not snapshot.exists()
