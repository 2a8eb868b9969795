"""rhocat.evaluate.density: a model's density errors on dataset structures, without pw.x."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rhocat.data.sample import DensitySample
from rhocat.data.snapshot import split_snapshot
from rhocat.evaluate.density import density_rows, summarize_density_rows
from rhocat.models import RadialModel
from rhocat.qe.gvectors import fft_grid_shape, g_cartesian, miller_indices


def _gaussian_sample(entry_id: str, width: float) -> DensitySample:
    """Si2 whose ρ and ρ_ACS are normalised Gaussians of two widths (e/bohr³, 8 electrons)."""
    cell = np.array([[0.0, 5.13, 5.13], [5.13, 0.0, 5.13], [5.13, 5.13, 0.0]])
    pos = np.array([[0.0, 0.0, 0.0], [2.565, 2.565, 2.565]])
    miller = miller_indices(cell, 60.0)
    g = g_cartesian(cell, miller)
    vol = abs(np.linalg.det(cell))
    sf = np.exp(-1j * g @ pos.T).sum(axis=1) / 2
    g2 = (g**2).sum(axis=1)
    rho = 8.0 / vol * np.exp(-g2 * width**2 / 4) * sf
    acs = 8.0 / vol * np.exp(-g2 * (1.2 * width) ** 2 / 4) * sf
    return DensitySample(entry_id, np.array([14, 14]), pos, cell, miller, rho[None], acs,
                         fft_grid_shape(cell, 60.0), split="test_binary")  # fmt: skip


def test_a_zero_model_captures_nothing_and_errs_as_the_acs():
    samples = [_gaussian_sample("a", 1.5), _gaussian_sample("b", 1.2)]
    rows = density_rows(RadialModel({}, [14]), samples)
    assert [r["id"] for r in rows] == ["a", "b"] and {r["split"] for r in rows} == {"test_binary"}
    for r in rows:
        assert r["captured_pct"] == pytest.approx(0.0, abs=1e-9)
        assert r["nmae_pct"] == pytest.approx(r["nmae_acs_pct"]) and r["nmae_pct"] > 0
        assert r["inference_s"] >= 0 and "uncertainty" not in r
    summary = summarize_density_rows(rows)
    assert summary["n"] == 2 and summary["negative"] == 0
    assert summary["captured_mean_pct"] == pytest.approx(0.0, abs=1e-9)


def test_summary_names_the_worst_structure():
    rows = [{"id": i, "captured_pct": c, "nmae_pct": 1.0, "nmae_acs_pct": 2.0, "inference_s": t}
            for i, c, t in (("x", 50.0, 0.1), ("y", -20.0, 0.3), ("z", 80.0, 0.2))]  # fmt: skip
    s = summarize_density_rows(rows)
    assert s["worst_id"] == "y" and s["captured_worst_pct"] == -20.0 and s["negative"] == 1
    assert s["captured_median_pct"] == 50.0 and s["inference_median_s"] == 0.2


class _Ids:
    def __init__(self, by_split):
        self.by_split = by_split

    def splits(self):
        return sorted(self.by_split)

    def ids(self, split):
        return list(self.by_split[split])


def test_snapshot_is_fixed_at_the_first_call(tmp_path):
    path = tmp_path / "snap.json"
    first = split_snapshot(_Ids({"train": ["a", "b"], "val": ["c"]}), path)
    assert first == {"train": ["a", "b"], "val": ["c"]}
    later = split_snapshot(_Ids({"train": ["a", "b", "d"], "val": ["c", "e"]}), path)
    assert later == first  # the dataset grew; the snapshot did not
    path.write_text(json.dumps({**first, "_rule": "cells of at most 3 atoms"}))
    assert split_snapshot(_Ids({}), path) == first  # notes are left out
