"""s-AUC (equation 2 of the paper), iterations saved, density errors and tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rhocat.errors import InputError
from rhocat.evaluate.metrics import (
    iterations_saved,
    mae,
    nmae,
    s_auc,
    summary_stats,
    wall_clock_saving,
)
from rhocat.evaluate.tables import summarize, to_markdown


def test_identical_curves_give_zero():
    curve = [5.7e-2, 1.2e-3, 4.0e-5, 2.2e-7, 1.0e-9]
    assert s_auc(curve, curve) == 0.0


def test_sign_follows_which_curve_is_lower():
    baseline = [1e-1, 1e-3, 1e-5, 1e-7]
    learned = [1e-2, 1e-4, 1e-6, 1e-8]  # one decade lower everywhere
    forward = s_auc(baseline, learned)
    backward = s_auc(learned, baseline)
    assert forward > 0 > backward
    # by hand: numerator 4*ln(10); denominator |ln 1e-1|+|ln 1e-3|+|ln 1e-5|+|ln 1e-7|
    expected = 4 * math.log(10) / (math.log(10) * (1 + 3 + 5 + 7))
    assert forward == pytest.approx(expected)
    assert backward == pytest.approx(-forward)  # the pointwise max makes it antisymmetric


def test_crossing_curves_cancel_exactly():
    # learned starts better, ends worse by the same log amounts: net area 0
    baseline = [1e-2, 1e-4]
    learned = [1e-3, 1e-3]
    # numerator: (ln 1e-2 - ln 1e-3) + (ln 1e-4 - ln 1e-3) = ln10 - ln10 = 0
    assert s_auc(baseline, learned) == pytest.approx(0.0, abs=1e-15)
    # and an asymmetric crossing keeps the sign of the larger part
    assert s_auc([1e-2, 1e-4], [1e-4, 1e-3]) > 0
    assert s_auc([1e-2, 1e-4], [1e-3, 1e-2]) < 0


def test_unequal_lengths_use_the_common_iterations():
    baseline = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7]
    learned = [1e-2, 1e-3, 1e-4]
    # only the first three iterations count
    expected = (3 * math.log(10)) / (math.log(10) * (1 + 2 + 3))
    assert s_auc(baseline, learned) == pytest.approx(expected)
    assert s_auc(baseline, learned) == pytest.approx(s_auc(baseline[:3], learned))
    assert s_auc(learned, baseline) == pytest.approx(-expected)


def test_denominator_uses_pointwise_max_in_log_space():
    # max(log x, log y) picks the worse (larger) accuracy; both above 1 Ry here
    baseline = [10.0, 1e-3]
    learned = [100.0, 1e-4]
    num = (math.log(10) - math.log(100)) + (math.log(1e-3) - math.log(1e-4))
    den = abs(math.log(100)) + abs(math.log(1e-3))
    assert s_auc(baseline, learned) == pytest.approx(num / den)


def test_s_auc_rejects_non_positive_and_handles_empty():
    with pytest.raises(InputError):
        s_auc([1e-2, 0.0], [1e-2, 1e-3])
    with pytest.raises(InputError):
        s_auc([1e-2], [-1.0])
    assert math.isnan(s_auc([], [1e-2]))
    assert math.isnan(s_auc([1.0], [1.0]))  # denominator zero


def test_iterations_saved():
    assert iterations_saved(10, 7) == pytest.approx(0.3)
    assert iterations_saved(8, 8) == 0.0
    assert iterations_saved(8, 12) == pytest.approx(-0.5)
    assert iterations_saved(9, 1) == pytest.approx(8 / 9)
    with pytest.raises(InputError):
        iterations_saved(0, 3)


def test_wall_clock_saving():
    assert wall_clock_saving(10.0, 1.0, 6.0) == pytest.approx(0.3)
    assert wall_clock_saving(10.0, 72.0, 5.0) == pytest.approx(-6.7)
    with pytest.raises(InputError):
        wall_clock_saving(0.0, 1.0, 1.0)


def test_mae_and_nmae():
    rng = np.random.default_rng(0)
    true = rng.random((4, 5, 6)) + 0.1
    assert mae(true, true) == 0.0
    assert nmae(true, true) == 0.0
    pred = true * 1.1
    assert nmae(pred, true) == pytest.approx(0.1)
    assert mae(pred, true) == pytest.approx(0.1 * float(np.mean(true)))
    with pytest.raises(InputError):
        mae(true, true[:2])


def test_summary_stats_counts_positive_and_drops_missing():
    s = summary_stats([0.5, -0.1, 0.2, None, float("nan"), 0.0])
    assert s["N"] == 4 and s["N+"] == 2 and s["n_missing"] == 2
    assert s["N+/N %"] == pytest.approx(50.0)
    assert s["mean"] == pytest.approx(0.15)
    assert s["median"] == pytest.approx(0.1)
    assert (s["max"], s["min"]) == (0.5, -0.1)
    empty = summary_stats([])
    assert empty["N"] == 0 and empty["mean"] is None


def _row(split, sauc, saved, status="ok", tb=10.0, ti=0.1, tw=6.0):
    return {
        "id": f"{split}-{sauc}",
        "split": split,
        "status": status,
        "s_auc": sauc,
        "iterations_saved": saved,
        "baseline_scf_s": tb,
        "inference_s": ti,
        "scf_s": tw,
        "wall_clock_saving": (tb - ti - tw) / tb,
    }


def test_tables_per_split_markdown_and_json():
    rows = [
        _row("train", 0.3, 0.2),
        _row("test_binary", 0.5, 0.25),
        _row("test_binary", -0.2, -0.1, tw=12.0),
        _row("test_ternary", 0.1, 0.0),
        _row("test_ternary", None, None, status="failed"),
    ]
    summary = summarize(rows)
    assert summary["splits"] == ["train", "test_binary", "test_ternary", "test (all)"]
    tb = summary["s_auc"]["test_binary"]
    assert (tb["N"], tb["N+"], tb["N+/N %"]) == (2, 1, 50.0)
    assert summary["iterations_saved_%"]["test_binary"]["max"] == pytest.approx(25.0)
    assert summary["s_auc"]["test (all)"]["N"] == 3
    assert summary["failed"]["test_ternary"] == 1
    wc = summary["wall_clock"]["test_binary"]
    assert wc["net_saving_%"] == pytest.approx(100 * (20 - 0.2 - 18) / 20)
    json.dumps(summary)  # JSON-ready
    md = to_markdown(summary)
    assert "Table 2" in md and "Table 3" in md and "Wall clock" in md
    assert "| test_binary | 2 | 1 | 50 |" in md
    assert "test_ternary: 1" in md
