"""Metrics of a warm start: s-AUC, iterations saved, density errors, summary tables.

All functions here are pure numpy on plain numbers; no file, no QE.

SCF accuracy curves are the per-iteration "estimated scf accuracy" of pw.x in Ry
(strictly positive numbers, decreasing on the whole). Densities are on a
real-space grid in e/bohr³.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from rhocat.errors import InputError


def _log_curve(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(list(values), dtype=float)
    if arr.ndim != 1:
        raise InputError(f"{name}: an SCF accuracy curve must be a 1-D sequence")
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr <= 0.0)):
        raise InputError(f"{name}: SCF accuracies must be finite and > 0 Ry (got {arr.tolist()})")
    return np.log(arr)


def s_auc(baseline: Sequence[float], learned: Sequence[float]) -> float:
    """Signed area between two SCF convergence curves (equation 2 of Pope & Jacobs 2023).

    With x the baseline (ACS start) and y the learned-start SCF accuracies (Ry),
    n = min(n_x, n_y)::

        s-AUC = Σ_{i<n} (log x_i − log y_i) / Σ_{i<n} |max(log x_i, log y_i)|

    Positive when the learned curve lies below the baseline (it converges
    faster); the sign is kept because curves may cross. Identical curves give 0.

    Args:
        baseline: SCF accuracies of the baseline run, Ry, one per iteration.
        learned: SCF accuracies of the run started from the prediction, Ry.

    Returns:
        The s-AUC (dimensionless). NaN when either curve is empty or the
        denominator is 0 (every common accuracy equal to exactly 1 Ry).
    """
    lx = _log_curve(baseline, "baseline")
    ly = _log_curve(learned, "learned")
    n = min(lx.size, ly.size)
    if n == 0:
        return math.nan
    lx, ly = lx[:n], ly[:n]
    den = float(np.sum(np.abs(np.maximum(lx, ly))))
    if den == 0.0:
        return math.nan
    return float(np.sum(lx - ly) / den)


def iterations_saved(baseline_iterations: int, learned_iterations: int) -> float:
    """Relative iterations saved at convergence: (baseline − learned) / baseline.

    A fraction (0.25 = 25% fewer iterations); negative when the learned start
    needs more iterations. Both counts are SCF iterations to convergence.
    """
    if baseline_iterations <= 0:
        raise InputError(f"baseline iteration count must be > 0, got {baseline_iterations}")
    if learned_iterations < 0:
        raise InputError(f"learned iteration count must be >= 0, got {learned_iterations}")
    return (baseline_iterations - learned_iterations) / baseline_iterations


def wall_clock_saving(baseline_scf_s: float, inference_s: float, warm_scf_s: float) -> float:
    """Net relative wall-clock saving: (t_baseline − (t_inference + t_warm)) / t_baseline.

    All times in seconds, measured in the same run. Negative when the warm
    start (inference included) is slower than the ACS start.
    """
    if baseline_scf_s <= 0:
        raise InputError(f"baseline SCF time must be > 0 s, got {baseline_scf_s}")
    return (baseline_scf_s - (inference_s + warm_scf_s)) / baseline_scf_s


def mae(predicted: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute error over grid points, in the units of the inputs (e/bohr³)."""
    p, t = _same_shape(predicted, true)
    return float(np.mean(np.abs(p - t)))


def nmae(predicted: np.ndarray, true: np.ndarray) -> float:
    """Normalised mean absolute error Σ|ρ_pred − ρ_true| / Σ|ρ_true| (a fraction, not %).

    On a uniform real-space grid this equals ∫|Δρ| dr / ∫|ρ| dr, the NMAE of
    DeepDFT and ChargE3Net (who quote it in percent).
    """
    p, t = _same_shape(predicted, true)
    den = float(np.sum(np.abs(t)))
    if den == 0.0:
        raise InputError("nmae: the true density is zero everywhere")
    return float(np.sum(np.abs(p - t)) / den)


def _same_shape(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise InputError(f"density shapes differ: {a.shape} vs {b.shape}")
    return a, b


def summary_stats(values: Iterable[float]) -> dict:
    """Summary statistics in the layout of Tables 2 and 3 of the paper.

    NaN/None values are dropped (a run that did not converge has no
    iterations saved) and counted in ``n_missing``.

    Returns:
        ``{"N", "N+", "N+/N %", "mean", "median", "max", "min", "n_missing"}``;
        the statistics are None when no value is left.
    """
    raw = list(values)
    vals = np.asarray(
        [float(v) for v in raw if v is not None and math.isfinite(float(v))], dtype=float
    )
    n = int(vals.size)
    n_pos = int(np.sum(vals > 0))
    out: dict = {"N": n, "N+": n_pos, "N+/N %": (100.0 * n_pos / n) if n else None}
    if n:
        out.update(
            mean=float(np.mean(vals)),
            median=float(np.median(vals)),
            max=float(np.max(vals)),
            min=float(np.min(vals)),
        )
    else:
        out.update(mean=None, median=None, max=None, min=None)
    out["n_missing"] = len(raw) - n
    return out
