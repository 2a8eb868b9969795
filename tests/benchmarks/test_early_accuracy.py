"""benchmarks/early_accuracy.py: pw.x's first iterations from a warm start, rank correlations."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import early_accuracy  # noqa: E402

DATASET = ROOT / "benchmarks" / "dataset" / "dataset"


@pytest.mark.needs_pw
@pytest.mark.skipif(not DATASET.is_dir(), reason="no benchmark dataset in this tree")
def test_the_first_iterations_of_a_warm_start_are_recorded(tmp_path):
    """zincblende RhI (2 atoms): 2 iterations of pw.x from the shipped model's start."""
    from rhocat.data.store import Dataset
    from rhocat.pretrained import load_pretrained
    from rhocat.qe.pseudo import load_family

    ds = Dataset(DATASET)
    trace = early_accuracy.early_trace(
        load_pretrained(), ds.load("zincblende-RhI"), load_family(ds.manifest.family),
        tmp_path, threshold=0.01, steps=2,
    )  # fmt: skip
    assert len(trace) == 2 and all(x > 0 for x in trace)
    out = (tmp_path / "run" / "pw.out").read_text()
    assert "The initial density is read from file" in out
    assert out.count("estimated scf accuracy") == 2  # stopped at electron_maxstep


def test_rank_correlation_per_iteration():
    traces = {
        "a": {f"c{k}": [1.0, 0.1] for k in range(5)},
        "b": {f"c{k}": [1.0 * 10**k, 0.1 * 10 ** (-k)] for k in range(5)},
    }
    iterations = {"a": {f"c{k}": 10 for k in range(5)}, "b": {f"c{k}": 10 + k for k in range(5)}}
    res = early_accuracy.rank_correlations(traces, iterations, "a", "b", steps=2)
    assert res["1"]["spearman"] == pytest.approx(1.0) and res["1"]["n"] == 5
    assert res["2"]["spearman"] == pytest.approx(-1.0)
