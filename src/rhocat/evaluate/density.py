"""A model's density errors on dataset structures, without pw.x.

The figures of the model benchmarks (``benchmarks/ablation.py``,
``benchmarks/learning_curve.py``) and of the shipped model's validation card
(``benchmarks/ship_pretrained.py``): per structure, the Hartree share of Δρ captured,
MAE (e/bohr³) and NMAE (%) of ρ and of the ACS, the Hartree energies (Ry) of the error
(:func:`rhocat.train.density_metrics`) and the inference time (s); an ensemble adds its
uncertainty u, shrink factor s and member count.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np


def density_rows(model, samples: Sequence) -> list[dict]:
    """One row per :class:`rhocat.data.sample.DensitySample`: ``id``, ``split``,
    ``inference_s`` (seconds of the model's Δρ), the density metrics and, for an
    ensemble, ``uncertainty``, ``shrink`` and ``members``."""
    from rhocat.models import predict_delta_rho_g
    from rhocat.models.ensemble import EnsembleModel
    from rhocat.train import density_metrics

    rows = []
    for s in samples:
        t = time.perf_counter()
        if isinstance(model, EnsembleModel):
            p = model.predict(s.numbers, s.positions_bohr, s.cell_bohr, s.g_cart)
            pred, extra = p.delta_rho_g.copy(), p.info()
            pred[np.all(np.asarray(s.miller) == 0, axis=1)] = 0.0
        else:
            pred = predict_delta_rho_g(
                model, s.numbers, s.positions_bohr, s.cell_bohr, s.miller, tuple(s.fft_grid)
            )
            extra = {}
        dt = time.perf_counter() - t
        rows.append({"id": s.id, "split": s.split, "inference_s": dt,
                     **density_metrics(s, pred), **extra})  # fmt: skip
    return rows


def capture_summary(captured_pct: Sequence[float], ids: Sequence[str]) -> dict:
    """``n``, mean, median and worst captured share (%) with the worst structure's id, and
    the count of structures made worse than the ACS (``negative``: captured < 0)."""
    cap = np.asarray(captured_pct, dtype=float)
    worst = int(np.argmin(cap))
    return {
        "n": len(cap),
        "captured_mean_pct": float(cap.mean()),
        "captured_median_pct": float(np.median(cap)),
        "captured_worst_pct": float(cap[worst]),
        "worst_id": ids[worst],
        "negative": int((cap < 0).sum()),
    }


def summarize_density_rows(rows: Sequence[dict]) -> dict:
    """Mean, median and worst captured share (%) with the worst structure's id, the count
    of structures made worse than the ACS (captured < 0), mean NMAE of the model and of the
    ACS (%) and the median inference time (s) of :func:`density_rows`' rows."""
    return {
        **capture_summary([r["captured_pct"] for r in rows], [r["id"] for r in rows]),
        "nmae_pct": float(np.mean([r["nmae_pct"] for r in rows])),
        "nmae_acs_pct": float(np.mean([r["nmae_acs_pct"] for r in rows])),
        "inference_median_s": float(np.median([r["inference_s"] for r in rows])),
    }
