"""benchmarks/ablation.py: a model trained elsewhere as a row (``--checkpoint NAME=PATH``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from ase.build import bulk

from rhocat.evaluate.density import density_rows, summarize_density_rows
from rhocat.train import load_model, save_checkpoint, train_model
from rhocat.train.checkpoint import checkpoint_dict
from tests.train.conftest import real_sample
from tests.train.test_cli_train import _dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import ablation  # noqa: E402

pytestmark = pytest.mark.needs_pw


def test_a_given_checkpoint_is_evaluated_as_it_is(tmp_path):
    si, c = bulk("Si", "diamond", a=5.43), bulk("C", "diamond", a=3.57)
    sic = bulk("SiC", "zincblende", a=4.36)
    strained = si.copy()
    strained.set_cell(si.cell * 0.97, scale_atoms=True)
    samples = [
        real_sample(si, "si", "train", tmp_path / "si"),
        real_sample(c, "c", "train", tmp_path / "c"),
        real_sample(strained, "si-strained", "val", tmp_path / "si2"),
        real_sample(sic, "sic", "test_binary", tmp_path / "sic"),
    ]
    data = _dataset(tmp_path / "ds", samples)
    # a model trained on Si alone: not what the ablation's own radial row (Si and C) fits
    model = train_model(samples[:1], "radial", "small", progress=False).model
    ckpt = save_checkpoint(tmp_path / "given.pt", checkpoint_dict(model))
    out = tmp_path / "ablation.json"
    argv = [str(data), "--snapshot", str(tmp_path / "snap.json"), "--rows", "radial,given",
            "--checkpoint", f"given={ckpt}", "--workdir", str(tmp_path / "w"),
            "-o", str(out)]  # fmt: skip
    assert ablation.main(argv) == 0
    rows = json.loads(out.read_text())["rows"]
    given = rows["given"]
    assert given["seeds"] == [] and given["train_s"] == 0.0
    expected = summarize_density_rows(density_rows(load_model(ckpt), samples[3:]))
    assert given["test"]["captured_mean_pct"] == pytest.approx(expected["captured_mean_pct"])
    (val_row,) = given["val_per_structure"]  # per validation structure, as for test
    assert val_row["id"] == "si-strained"
    assert given["val"]["captured_mean_pct"] == pytest.approx(val_row["captured_pct"])
    assert given["test"]["captured_mean_pct"] != pytest.approx(
        rows["radial"]["test"]["captured_mean_pct"]
    )
