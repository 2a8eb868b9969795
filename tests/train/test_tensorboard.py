"""Training metrics reach TensorBoard event files beside the CSV (when TensorBoard is installed)."""

from __future__ import annotations

import csv

import pytest

from rhocat.train import train_model
from rhocat.train.tensorboard import MetricsLog, log_dir


def _scalars(directory, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(directory))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_event_files_hold_the_csv_metrics(real_samples, tiny_basis, tmp_path):
    pytest.importorskip("tensorboard", reason="pip install 'rhocat[tensorboard]'")
    train_model(real_samples, "basis", tiny_basis, steps=4, out=tmp_path / "m.pt", progress=False)
    board = tmp_path / "m.tensorboard"
    assert board == log_dir(tmp_path / "m.metrics.csv")
    assert any(p.name.startswith("events.out.tfevents") for p in board.iterdir())
    with open(tmp_path / "m.metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    loss = _scalars(board, "train/loss")
    assert [s for s, _ in loss] == [0, 1, 2, 3]
    assert [v for _, v in loss] == pytest.approx([float(r["loss"]) for r in rows], rel=1e-6)
    val = _scalars(board, "val/hartree_ry")  # validated every 2 steps (tiny_basis)
    assert [s for s, _ in val] == [1, 3]
    assert val[-1][1] == pytest.approx(float(rows[-1]["val_hartree_ry"]), rel=1e-6)


def test_switched_off_or_without_a_csv_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("RHOCAT_TENSORBOARD", "0")
    log = MetricsLog(tmp_path / "m.metrics.csv")
    log.log({"step": 0, "loss": 1.0})
    log.close()
    assert log.path is None and not (tmp_path / "m.tensorboard").exists()
    monkeypatch.delenv("RHOCAT_TENSORBOARD")
    assert MetricsLog(None).path is None
