"""benchmarks/ship_pretrained.py: a checkpoint and its card, written where the package looks."""

from __future__ import annotations

import json

from rhocat.predict.core import first_threshold, warm_occupations, warm_startingwfc
from rhocat.train import load_model, read_checkpoint
from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import ship_pretrained  # benchmarks/ is on the path (tests.benchmarks.shared)

pytestmark = needs_dataset


def test_the_card_carries_the_warm_settings_and_the_checkpoints_metrics(tmp_path, monkeypatch):
    ckpt, card_path = tmp_path / "default.pt", tmp_path / "default.json"
    monkeypatch.setattr(ship_pretrained, "DEFAULT_CHECKPOINT", ckpt)
    monkeypatch.setattr(ship_pretrained, "DEFAULT_CARD", card_path)
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps({"train": ["zincblende-NiI"], "val": ["rutile-CrN2", "L12-CrB3"]}))
    argv = [str(MODEL), str(DATASET), "--snapshot", str(snap)]
    warm = ["--first-threshold", "0.003", "--startingwfc", "atomic", "--occupations", "atomic"]
    ship_pretrained.main([*argv, *warm])
    card = json.loads(card_path.read_text())
    assert card["structures_per_split"] == {"train": 1, "val": 2}
    assert card["train_systems"] == ["I-Ni"] and card["validation"]["n"] == 2
    assert card["warm_diago_thr_init"] == 0.003 and card["warm_startingwfc"] == "atomic"
    assert card["warm_occupations"] == "atomic"
    assert card["training_metrics"] == json.loads(read_checkpoint(MODEL)["metrics"])
    assert card["checkpoint_bytes"] == ckpt.stat().st_size
    shipped = load_model(ckpt)
    assert first_threshold(shipped) == 0.003 and warm_startingwfc(shipped) == "atomic"
    assert warm_occupations(shipped) == "atomic"
