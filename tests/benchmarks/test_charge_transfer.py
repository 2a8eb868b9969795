"""benchmarks/charge_transfer.py: the charge a charge-equilibration head moves."""

from __future__ import annotations

import json

import pytest
import torch

from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import charge_transfer  # benchmarks/ is on the path (tests.benchmarks.shared)
import finetune


@needs_dataset
def test_a_head_moves_no_charge_until_trained_and_then_a_neutral_amount(tmp_path):
    from rhocat.data.store import Dataset
    from rhocat.train import load_model

    shipped = load_model(MODEL).member(0)
    smp = Dataset(DATASET).load("zincblende-NiI")
    assert charge_transfer.head_charges(shipped, smp) is None  # no head
    net = finetune.with_charge_equilibration(shipped)
    assert charge_transfer.head_charges(net, smp) == [0.0, 0.0]
    with torch.no_grad():
        net.charge_eq.chi.weight.normal_(generator=torch.Generator().manual_seed(0))
    q = charge_transfer.head_charges(net, smp)
    assert abs(q[0]) > 1e-6 and sum(q) == pytest.approx(0.0, abs=1e-12)

    out = tmp_path / "q.json"
    argv = [str(MODEL), str(DATASET), "--ids", "zincblende-NiI", "-o", str(out)]
    assert charge_transfer.main(argv) == 0
    row = json.loads(out.read_text())["structures"]["zincblende-NiI"]
    assert row["symbols"] == ["Ni", "I"] and "mean_e" not in row
    assert row["members"] == [None] * len(load_model(MODEL).members)
