"""benchmarks/shrink_anchor.py on a few structures of the benchmark dataset."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import shrink_anchor  # benchmarks/ is on the path (tests.benchmarks.shared)

pytestmark = needs_dataset


def test_the_acs_anchor_is_the_shipped_shrinkage_and_each_c_is_the_validation_best(tmp_path):
    from rhocat.evaluate.density import density_rows
    from rhocat.train import load_model

    snap = tmp_path / "snap.json"
    train = ["A15-Ag3As", "A15-Rh3Ge", "A15-Fe3Cu", "CdI2-FeI2", "CdI2-CrO2", "A15-Cu3Ga"]
    val = ["zincblende-RhI", "D03-Cu3Rh", "L12-RhCu3"]
    test = ["CdI2-CuI2", "rocksalt-FeO"]
    snap.write_text(json.dumps({"train": train, "val": val, "test_binary": test}))
    out = tmp_path / "out.json"
    argv = [str(MODEL), str(DATASET), "--snapshot", str(snap), "-o", str(out)]
    assert shrink_anchor.main(argv) == 0
    res = json.loads(out.read_text())["anchors"]
    assert set(res) == {"acs", "ridge", "baseline"}
    for anchor in res.values():
        curve = anchor["val_curve"]
        assert curve[str(anchor["chosen_c"])] == pytest.approx(max(curve.values()))
    # the ACS anchor at the model's own c is what the shipped prediction captures
    from rhocat.data.store import Dataset

    model = load_model(MODEL)
    samples = [Dataset(DATASET).load(i) for i in test]
    terms = shrink_anchor.quadratic_terms(model, {"ridge": {}, "baseline": {}}, [])  # empty ok
    assert all(len(t) == 0 for t in terms.values())
    tables = shrink_anchor.anchor_tables(model, [Dataset(DATASET).load(i) for i in train])
    terms = shrink_anchor.quadratic_terms(model, tables, samples)
    got = shrink_anchor.captured(terms["acs"], model.config["shrink_c"])
    want = [r["captured_pct"] for r in density_rows(model, samples)]
    assert got == pytest.approx(want, abs=1e-6)
    acs = res["acs"]
    assert acs["floor_alone"]["val"]["captured_mean_pct"] == 0.0
    assert res["ridge"]["floor_alone"]["val"]["captured_mean_pct"] != 0.0
