"""benchmarks/element_deficit.py: a model's density deficit, element by element."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks.shared import BENCHMARKS

# isort: split
import element_deficit  # benchmarks/ is on the path (tests.benchmarks.shared)

CELLS = BENCHMARKS / "results_uncertainty_calibration_val206_pairradial16000.json"
ABLATION = BENCHMARKS / "results_ablation_pairradial16_16000.json"
ROW = "features-ensemble-shrink@16000"


def test_elements_of_an_id():
    assert element_deficit.cell_elements("half-heusler-RhCrSi~c1") == {"Rh", "Cr", "Si"}
    assert element_deficit.cell_elements("CdI2-RhI2") == {"Rh", "I"}
    assert element_deficit.cell_elements("L12-FeGa3") == {"Fe", "Ga"}


def test_the_test_iodides_of_the_shipped_model(tmp_path):
    out = tmp_path / "deficit.json"
    argv = ["--model", f"shipped={CELLS}", "--model", f"wide16={ABLATION}:{ROW}"]
    assert element_deficit.main([*argv, "--split", "test", "-o", str(out)]) == 0
    result = json.loads(out.read_text())
    shipped = result["models"]["shipped"]
    cells = {c["id"]: c["captured_pct"] for c in json.loads(CELLS.read_text())["cells"]["test"]}
    iodides = [v for k, v in cells.items() if "I" in element_deficit.cell_elements(k)]
    assert shipped["cells"] == 208 and len(iodides) == 10
    iodine = shipped["elements"]["I"]
    assert iodine["cells"] == 10
    assert iodine["captured_mean_pct"] == pytest.approx(sum(iodides) / 10)
    assert iodine["deficit_mean_pct"] == pytest.approx(100 - sum(iodides) / 10)
    shares = [e["deficit_share_pct"] for e in shipped["elements"].values()]
    assert shares == sorted(shares, reverse=True) and sum(shares) > 100  # cells count per element
    assert shipped["worst"][0]["captured_pct"] == min(cells.values())
    assert "captured_mean_minus_first_pct" not in shipped
    diff = result["models"]["wide16"]["captured_mean_minus_first_pct"]
    rows = json.loads(ABLATION.read_text())["rows"][ROW]["per_structure"]
    wide = {c["id"]: c["captured_pct"] for c in rows}
    wide_iodides = [v for k, v in wide.items() if "I" in element_deficit.cell_elements(k)]
    assert diff["I"] == pytest.approx(sum(wide_iodides) / 10 - sum(iodides) / 10)


def test_a_model_against_itself_differs_by_nothing(tmp_path):
    out = tmp_path / "deficit.json"
    spec = f"{ABLATION}:{ROW}"
    assert element_deficit.main(["--model", f"a={spec}", "--model", f"b={spec}", "--split",
                                 "val", "-o", str(out)]) == 0  # fmt: skip
    result = json.loads(out.read_text())
    assert result["models"]["a"]["cells"] == 46
    assert set(result["models"]["b"]["captured_mean_minus_first_pct"].values()) == {0.0}


@pytest.mark.parametrize(
    "spec, message",
    [(f"x={ABLATION}:no-such-row", "no per-cell results for row"),
     (f"x={BENCHMARKS / 'no-such-file.json'}", "existing file"),
     (str(CELLS), "LABEL=FILE")],
)  # fmt: skip
def test_a_bad_model_is_a_usage_error_and_writes_nothing(tmp_path, capsys, spec, message):
    out = tmp_path / "deficit.json"
    with pytest.raises(SystemExit) as exc:
        element_deficit.main(["--model", spec, "-o", str(out)])
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_shrink_curve_cells_are_read_at_the_c_chosen_on_validation_or_a_given_one(tmp_path):
    curve = {
        "subsets": {"val": {"chosen_c": 2.0}},
        "at_c": {
            c: {"cells": {"val": [{"id": "CdI2-RhI2", "captured_pct": v}], "test": []}}
            for c, v in (("1.0", 40.0), ("2.0", 45.0))
        },
    }
    path = tmp_path / "curve.json"
    path.write_text(json.dumps(curve))
    assert element_deficit.captured_by_cell(path, None, "val") == {"CdI2-RhI2": 45.0}
    assert element_deficit.captured_by_cell(path, "1.0", "val") == {"CdI2-RhI2": 40.0}
    with pytest.raises(KeyError, match="at c = 4"):
        element_deficit.captured_by_cell(path, "4", "val")
