"""The benchmark dataset kept in the repository (benchmarks/dataset/dataset) is whole and loads.

It is checked as a fresh clone has it: entry files and checksums.sha256 only (the SQLite
index is a cache, rebuilt from the files in a copy here so the repository is not touched).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rhocat.data.check import check_dataset, coverage
from rhocat.data.store import Dataset

DATASET = Path(__file__).resolve().parents[2] / "benchmarks" / "dataset" / "dataset"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATASET.is_dir(), reason="no benchmark dataset in this tree"),
]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "dataset"
    shutil.copytree(DATASET, out, ignore=shutil.ignore_patterns("index.sqlite*", "work", ".lock"))
    return out


def test_every_entry_matches_its_checksum(clone):
    report = check_dataset(clone)
    assert report.clean, dict(list(report.problems.items())[:3])
    assert report.checked == 1375 and report.ok == 1375 and report.failed_runs == 0


def test_splits_and_coverage(clone):
    with Dataset(clone) as ds:
        assert ds.manifest.storage == "compact" and ds.manifest.family == "debian-pbe"
        counts = {s: ds.count(split=s, status="ok") for s in ds.splits()}
    # the targets of the dataset (issue 11)
    assert counts["train"] >= 600 and counts["val"] >= 40
    assert counts["test_binary"] + counts["test_ternary"] >= 200 and counts["test_ternary"] >= 60
    cov = coverage(clone)
    # all 16 elements of the family are in the training split
    assert len([e for e, c in cov["elements"].items() if c.get("train", 0) > 0]) == 16
    # every element of a test structure is in at least 10 training structures
    test_elements = [
        e for e, c in cov["elements"].items() if c.get("test_binary", 0) + c.get("test_ternary", 0)
    ]
    assert test_elements and all(cov["elements"][e].get("train", 0) >= 10 for e in test_elements)


def test_a_compact_entry_loads_as_a_density_sample(clone):
    with Dataset(clone) as ds:
        sample = ds.load(ds.ids(split="test_ternary")[0])
    n_el = sample.rho_g[0][np.all(sample.miller == 0, axis=1)][0].real * sample.volume_bohr3
    assert n_el == pytest.approx(float(sample.meta["n_electrons"]), rel=1e-6)
    assert np.abs(sample.delta_rho_g).max() > 0  # ρ − ρ_ACS, with the ACS recomputed
