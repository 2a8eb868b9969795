"""Matplotlib figures of an evaluation (the paper's Figures 2-6 plus wall clock).

Every function takes result rows (plain dicts written by
:mod:`rhocat.evaluate.runner`) and returns a :class:`matplotlib.figure.Figure`,
or None when the rows hold nothing to draw. No pyplot: figures are built
directly, so this works headless and in threads.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from rhocat.evaluate.tables import split_order

BASELINE_COLOR = "#d62728"  # red solid, as in the paper's Figure 6
LEARNED_COLOR = "#1f77b4"  # blue dashed
SPLIT_COLORS = ["#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974", "#64b5cd"]


def to_png(fig: Figure, dpi: int = 110) -> bytes:
    """PNG bytes of a figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def _ok(rows: Sequence[dict]) -> list[dict]:
    return [r for r in rows if r.get("status") == "ok"]


def _finite(values) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def _by_split(rows: Sequence[dict], field: str, scale: float = 1.0) -> dict[str, np.ndarray]:
    out = {}
    for split in split_order(rows):
        vals = _finite(r.get(field) for r in rows if str(r.get("split") or "unsplit") == split)
        if vals.size:
            out[split] = vals * scale
    return out


def _trim_outliers(vals: np.ndarray) -> tuple[np.ndarray, int]:
    """Drop points beyond 3 IQR of the quartiles (the paper drops outliers for display)."""
    if vals.size < 5:
        return vals, 0
    q1, q3 = np.percentile(vals, [25, 75])
    iqr = q3 - q1
    keep = (vals >= q1 - 3 * iqr) & (vals <= q3 + 3 * iqr) if iqr > 0 else np.ones_like(vals, bool)
    return vals[keep], int(np.sum(~keep))


def distribution_figure(
    rows: Sequence[dict],
    field: str,
    *,
    title: str,
    ylabel: str,
    scale: float = 1.0,
    log: bool = False,
    zero_line: bool = False,
    drop_outliers: bool = False,
) -> Figure | None:
    """Box plot with jittered points of one per-structure number, one box per split."""
    data = _by_split(_ok(rows), field, scale)
    if not data:
        return None
    dropped = 0
    if drop_outliers:
        trimmed = {}
        for k, v in data.items():
            trimmed[k], d = _trim_outliers(v)
            dropped += d
        data = trimmed
    if log:
        data = {k: v[v > 0] for k, v in data.items()}
        data = {k: v for k, v in data.items() if v.size}
        if not data:
            return None
    names = list(data)
    fig = Figure(figsize=(max(4.5, 1.6 * len(names) + 2), 3.6))
    ax = fig.add_subplot()
    ax.boxplot(
        [data[n] for n in names],
        tick_labels=[f"{n}\n(N={data[n].size})" for n in names],
        showfliers=False,
        widths=0.55,
        medianprops={"color": "black", "linewidth": 1.5},
    )
    rng = np.random.default_rng(0)
    for i, n in enumerate(names, start=1):
        v = data[n]
        ax.scatter(
            i + rng.uniform(-0.18, 0.18, v.size),
            v,
            s=26,
            alpha=0.8,
            color=SPLIT_COLORS[(i - 1) % len(SPLIT_COLORS)],
            edgecolors="none",
            zorder=3,
        )
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.tick_params(axis="y", which="minor", labelsize=8)
    if zero_line:
        ax.axhline(0.0, color="grey", linewidth=1, linestyle=":")
    ax.set_ylabel(ylabel)
    ax.set_title(title + (f"  ({dropped} outliers not shown)" if dropped else ""), fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    return fig


def mae_figure(rows: Sequence[dict]) -> Figure | None:
    """Figure 2: distribution of the density MAE per split (e/bohr³, log scale)."""
    return distribution_figure(
        rows, "mae", title="Density MAE per split", ylabel="MAE (e/bohr³)", log=True
    )


def s_auc_figure(rows: Sequence[dict]) -> Figure | None:
    """Figure 4: distribution of s-AUC per split (positive: faster than ACS)."""
    return distribution_figure(
        rows,
        "s_auc",
        title="s-AUC per split (> 0: learned start converges faster)",
        ylabel="s-AUC",
        zero_line=True,
        drop_outliers=True,
    )


def iterations_figure(rows: Sequence[dict]) -> Figure | None:
    """Figure 5: distribution of relative iterations saved per split (%)."""
    return distribution_figure(
        rows,
        "iterations_saved",
        title="Iterations saved at convergence",
        ylabel="iterations saved (%)",
        scale=100.0,
        zero_line=True,
        drop_outliers=True,
    )


def _label(row: dict) -> str:
    formula = row.get("formula") or ""
    rid = str(row.get("id", "?"))
    return f"{formula} ({rid})" if formula and formula not in rid else rid


def projection_figure(rows: Sequence[dict]) -> Figure | None:
    """Figure 3: true, predicted and scaled |error| projections, best and worst test rows by MAE.

    Uses the ``projection`` field of the rows: ``{"axis": k, "true": 2-D,
    "predicted": 2-D}``, densities in e/bohr³ summed along axis k.
    """
    cands = [
        r
        for r in _ok(rows)
        if r.get("projection") and r.get("mae") is not None and math.isfinite(r["mae"])
    ]
    tests = [r for r in cands if str(r.get("split", "")).startswith("test")] or cands
    if not tests:
        return None
    tests.sort(key=lambda r: r["mae"])
    picks = [("lowest MAE", tests[0])]
    if len(tests) > 1:
        picks.append(("highest MAE", tests[-1]))
    fig = Figure(figsize=(10.5, 3.3 * len(picks)))
    axes = fig.subplots(len(picks), 3, squeeze=False)
    for row_i, (tag, r) in enumerate(picks):
        proj = r["projection"]
        true = np.asarray(proj["true"], dtype=float)
        pred = np.asarray(proj["predicted"], dtype=float)
        err = np.abs(pred - true)
        vmax = float(max(true.max(), pred.max()))
        vmin = float(min(true.min(), pred.min()))
        emax = float(err.max())
        factor = vmax / emax if emax > 0 else 1.0
        err_title = f"|error| × {factor:.3g}" if emax > 0 else "|error| (0 at 5 digits)"
        panels = [
            ("true", true, "viridis", vmin, vmax),
            ("predicted", pred, "viridis", vmin, vmax),
            (err_title, err * factor, "magma", 0.0, vmax),
        ]
        axis = "xyz"[int(proj.get("axis", 2))]
        for col, (name, img, cmap, lo, hi) in enumerate(panels):
            ax = axes[row_i, col]
            im = ax.imshow(img.T, origin="lower", cmap=cmap, vmin=lo, vmax=hi, aspect="equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name, fontsize=10)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        axes[row_i, 0].set_ylabel(f"{tag}\n{_label(r)}\nMAE {r['mae']:.2g} e/bohr³", fontsize=9)
    fig.suptitle("Test densities summed along one axis (e/bohr³ · grid points along " + axis + ")")
    fig.tight_layout()
    return fig


def convergence_figure(rows: Sequence[dict], top: int = 6) -> Figure | None:
    """Figure 6: SCF accuracy per iteration, baseline red solid, learned blue dashed, log y.

    Shows the ``top`` test structures by s-AUC (all rows if there is no test split).
    """
    cands = [
        r
        for r in _ok(rows)
        if r.get("s_auc") is not None
        and math.isfinite(r["s_auc"])
        and (r.get("baseline") or {}).get("scf_accuracy_ry")
        and (r.get("learned") or {}).get("scf_accuracy_ry")
    ]
    tests = [r for r in cands if str(r.get("split", "")).startswith("test")] or cands
    if not tests:
        return None
    tests = sorted(tests, key=lambda r: r["s_auc"], reverse=True)[:top]
    ncol = min(3, len(tests))
    nrow = math.ceil(len(tests) / ncol)
    fig = Figure(figsize=(3.6 * ncol, 2.9 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for i, r in enumerate(tests):
        ax = axes[i // ncol, i % ncol]
        b = r["baseline"]["scf_accuracy_ry"]
        w = r["learned"]["scf_accuracy_ry"]
        ax.plot(range(1, len(b) + 1), b, "-o", color=BASELINE_COLOR, ms=3, label="ACS start")
        ax.plot(range(1, len(w) + 1), w, "--s", color=LEARNED_COLOR, ms=3, label="learned start")
        ax.set_yscale("log")
        ax.set_title(f"{_label(r)}\ns-AUC {r['s_auc']:.2f}", fontsize=9)
        ax.set_xlabel("SCF iteration", fontsize=8)
        ax.set_ylabel("SCF accuracy (Ry)", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8)
    for j in range(len(tests), nrow * ncol):
        axes[j // ncol, j % ncol].set_visible(False)
    fig.tight_layout()
    return fig


def wall_clock_figure(rows: Sequence[dict]) -> Figure | None:
    """Wall clock: per structure, ACS-start SCF time vs inference + warm SCF (seconds)."""
    timed = [
        r
        for r in _ok(rows)
        if r.get("baseline_scf_s") is not None
        and r.get("scf_s") is not None
        and r.get("inference_s") is not None
    ]
    if not timed:
        return None
    fig = Figure(figsize=(10.5, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    splits = split_order(timed)
    hi = 0.0
    lo = math.inf
    for k, split in enumerate(splits):
        g = [r for r in timed if str(r.get("split") or "unsplit") == split]
        x = np.array([float(r["baseline_scf_s"]) for r in g])
        y = np.array([float(r["inference_s"]) + float(r["scf_s"]) for r in g])
        ax1.scatter(x, y, s=18, label=split, color=SPLIT_COLORS[k % len(SPLIT_COLORS)])
        hi = max(hi, x.max(), y.max())
        lo = min(lo, x.min(), y.min())
    lo = max(lo * 0.8, 1e-3)
    ax1.plot([lo, hi * 1.2], [lo, hi * 1.2], color="grey", linestyle=":", label="no gain")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    for axis in (ax1.xaxis, ax1.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
    ax1.set_xlabel("ACS-start SCF (s)")
    ax1.set_ylabel("inference + warm SCF (s)")
    ax1.set_title("Per structure (below the line: faster)", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)

    tb, ti, tw = [], [], []
    for split in splits:
        g = [r for r in timed if str(r.get("split") or "unsplit") == split]
        tb.append(sum(float(r["baseline_scf_s"]) for r in g))
        ti.append(sum(float(r["inference_s"]) for r in g))
        tw.append(sum(float(r["scf_s"]) for r in g))
    pos = np.arange(len(splits))
    ax2.bar(pos - 0.2, tb, 0.38, color=BASELINE_COLOR, label="ACS-start SCF")
    ax2.bar(pos + 0.2, tw, 0.38, color=LEARNED_COLOR, label="warm SCF")
    ax2.bar(pos + 0.2, ti, 0.38, bottom=tw, color="#ff9f1c", label="inference")
    for p, b, i, w in zip(pos, tb, ti, tw, strict=True):
        if b > 0:
            ax2.text(p + 0.2, i + w, f"{100 * (b - i - w) / b:+.0f}%", ha="center", va="bottom")
    ax2.set_xticks(pos, splits)
    ax2.set_ylabel("total wall clock (s)")
    ax2.set_title("Totals per split (label: net saving)", fontsize=10)
    ax2.legend(fontsize=8)
    ax2.grid(axis="y", alpha=0.3)
    ax2.set_ylim(0, max(max(tb), max(t + i for t, i in zip(tw, ti, strict=True))) * 1.18)
    fig.tight_layout()
    return fig
