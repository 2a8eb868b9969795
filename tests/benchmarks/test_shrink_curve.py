"""benchmarks/shrink_curve.py on a few structures of the benchmark dataset."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import shrink_curve  # noqa: E402

DATASET = ROOT / "benchmarks" / "dataset" / "dataset"
MODEL = ROOT / "benchmarks" / "checkpoints" / "iodides-8000.pt"

pytestmark = pytest.mark.skipif(
    not (DATASET.is_dir() and MODEL.is_file()), reason="no benchmark dataset in this tree"
)


def test_each_subset_gets_the_c_that_maximizes_its_own_capture(tmp_path):
    snap = tmp_path / "snap.json"
    val = ["CdI2-RhI2", "zincblende-RhI", "L12-CrB3", "rutile-CrN2"]
    snap.write_text(json.dumps({"val": val, "test_binary": ["zincblende-NiI"]}))
    out = tmp_path / "out.json"
    argv = [str(MODEL), str(DATASET), "--snapshot", str(snap), "--exclude", "RhI", "-o", str(out)]
    assert shrink_curve.main(argv) == 0
    res = json.loads(out.read_text())
    subsets = res["subsets"]
    assert subsets["val"]["n"] == 4 and subsets["val without RhI"]["n"] == 2
    for s in subsets.values():
        curve = {float(c): v for c, v in s["captured_mean_pct"].items()}
        assert s["chosen_c"] == max(curve, key=curve.get)
    for c, row in res["at_c"].items():
        assert row["val"]["n"] == 4 and row["test"]["n"] == 1
        assert row["val with RhI"]["n"] == 2
        cells = {c["id"]: c["captured_pct"] for rs in row["cells"].values() for c in rs}
        assert sorted(cells) == sorted([*val, "zincblende-NiI"])
        assert [c["id"] for c in row["cells"]["test"]] == ["zincblende-NiI"]
        rhi = [cells[i] for i in val[:2]]
        assert row["val with RhI"]["captured_mean_pct"] == pytest.approx(sum(rhi) / 2)
        assert row["val"]["captured_mean_pct"] == pytest.approx(
            subsets["val"]["captured_mean_pct"][c], abs=1e-6
        )
