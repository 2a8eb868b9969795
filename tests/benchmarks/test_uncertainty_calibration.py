"""benchmarks/uncertainty_calibration.py on a few structures of the benchmark dataset."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks.shared import DATASET, MODEL, ROOT, needs_dataset

# isort: split
import uncertainty_calibration  # benchmarks/ is on the path (tests.benchmarks.shared)

pytestmark = needs_dataset


def test_test_cells_beyond_the_validation_calibration_are_listed_worst_first(tmp_path):
    snap = tmp_path / "snap.json"
    val = ["D03-Cu3Rh", "L12-RhCu3", "zincblende-RhI"]
    test = ["rocksalt-FeO", "CdI2-CuI2", "L10-FeGe", "D03-Ga3Ni"]
    snap.write_text(json.dumps({"val": val, "test_binary": test}))
    out = tmp_path / "out.json"
    argv = [str(MODEL), str(DATASET), "--snapshot", str(snap), "-o", str(out)]
    assert uncertainty_calibration.main(argv) == 0
    res = json.loads(out.read_text())
    assert res["val"]["n"] == 3 and res["test"]["n"] == 4
    cells = res["cells"]["test"]
    for c in cells:
        assert c["uncertainty"] > 0
        assert c["residual"] == pytest.approx(1 - c["captured_pct"] / 100)
    limit = res["val"]["residual_over_u2_max"]
    beyond = res["test"]["beyond_validation"]
    ratios = {c["id"]: c["residual"] / c["uncertainty"] ** 2 for c in cells}
    assert [b["id"] for b in beyond] == sorted(
        (i for i, q in ratios.items() if q > limit), key=lambda i: -ratios[i]
    )
    # L1₀ FeGe: u small for how wrong it is, beyond these three validation cells
    assert "L10-FeGe" in [b["id"] for b in beyond]


VAL_SCF = "benchmarks/results_val_scf_val206_pairradial16000.json:radial_model_occ"
TEST_SCF = "benchmarks/results_paper_full_pairradial16000.json:pairradial-16000"


def test_scf_results_give_the_slower_cells_with_their_uncertainty(tmp_path):
    """The shipped model's committed SCF runs: heusler Fe₂GaAs (validation, 16.7 against 13
    iterations, mean of three runs) and zincblende NiI (test, 11 against 10) are slower than
    the ACS; the others here are faster."""
    snap = tmp_path / "snap.json"
    val = ["heusler-Fe2GaAs", "A15-Ag3Ni", "L12-CrB3~c1"]
    test = ["zincblende-NiI", "A15-Rh3Ni"]
    snap.write_text(json.dumps({"val": val, "test_binary": test}))
    out = tmp_path / "out.json"
    argv = [str(MODEL), str(DATASET), "--snapshot", str(snap), "-o", str(out),
            "--val-scf", str(ROOT / VAL_SCF), "--test-scf", str(ROOT / TEST_SCF)]  # fmt: skip
    assert uncertainty_calibration.main(argv) == 0
    res = json.loads(out.read_text())
    u = {c["id"]: c["uncertainty"] for g in ("val", "test") for c in res["cells"][g]}
    val_scf, test_scf = res["val"]["scf"], res["test"]["scf"]
    assert val_scf["n"] == 3 and test_scf["n"] == 2
    assert [c["id"] for c in val_scf["slower_cells"]] == ["heusler-Fe2GaAs"]
    assert val_scf["slower_cells"][0]["warm"] == pytest.approx(50 / 3)
    assert test_scf["slower_cells"] == [
        {"id": "zincblende-NiI", "uncertainty": u["zincblende-NiI"], "acs": 10.0, "warm": 11.0}
    ]
    cut = val_scf["u_cut"]
    assert test_scf["u_cut"] == cut and min(u[i] for i in val) < cut <= max(u[i] for i in val)
    assert val_scf["above_cut"]["n"] == sum(u[i] > cut for i in val)


def test_an_unknown_scf_model_is_a_usage_error(tmp_path, capsys):
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps({"val": ["A15-Ag3Ni", "L12-CrB3"], "test_binary": ["A15-Rh3Ni"]}))
    bad = str(ROOT / VAL_SCF).rsplit(":", 1)[0] + ":no_such_model"
    argv = [str(MODEL), str(DATASET), "--snapshot", str(snap), "-o", str(tmp_path / "o.json"),
            "--val-scf", bad]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        uncertainty_calibration.main(argv)
    assert exc.value.code == 2 and "no_such_model" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()
