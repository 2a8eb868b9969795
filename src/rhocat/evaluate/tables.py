"""Summary tables of an evaluation: the paper's Tables 2 and 3, and wall clock.

Input is the list of per-structure result rows written by
:mod:`rhocat.evaluate.runner` (plain dicts, see :mod:`rhocat.evaluate.results`).
Output is a JSON-ready dict and a Markdown rendering of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rhocat.evaluate.metrics import summary_stats

#: Name of the row that pools every split whose name starts with ``test``.
ALL_TEST = "test (all)"


def _ok(rows: Sequence[dict]) -> list[dict]:
    return [r for r in rows if r.get("status") == "ok"]


def split_order(rows: Sequence[dict]) -> list[str]:
    """Splits present in the rows, train first, then val, then test."""

    def key(name: str) -> tuple[int, str]:
        for i, prefix in enumerate(("train", "val", "test")):
            if name.startswith(prefix):
                return (i, name)
        return (3, name)

    return sorted({str(r.get("split") or "unsplit") for r in rows}, key=key)


def _groups(rows: Sequence[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for split in split_order(rows):
        groups[split] = [r for r in rows if str(r.get("split") or "unsplit") == split]
    tests = [s for s in groups if s.startswith("test")]
    if len(tests) > 1:
        groups[ALL_TEST] = [r for s in tests for r in groups[s]]
    return groups


def _percent(stats: dict) -> dict:
    out = dict(stats)
    for k in ("mean", "median", "max", "min"):
        if out[k] is not None:
            out[k] = 100.0 * out[k]
    return out


def wall_clock_stats(rows: Sequence[dict]) -> dict:
    """Wall-clock comparison of one group of structures (times in seconds).

    ``net_saving_%`` compares totals: (Σ baseline − Σ (inference + warm SCF)) / Σ baseline.
    ``N+`` counts structures whose own net saving is positive.
    """
    timed = [
        r
        for r in rows
        if r.get("baseline_scf_s") is not None
        and r.get("scf_s") is not None
        and r.get("inference_s") is not None
    ]
    n = len(timed)
    tb = sum(float(r["baseline_scf_s"]) for r in timed)
    ti = sum(float(r["inference_s"]) for r in timed)
    tw = sum(float(r["scf_s"]) for r in timed)
    per = summary_stats(r.get("wall_clock_saving") for r in timed)
    return {
        "N": n,
        "N+": per["N+"],
        "baseline_scf_s": tb,
        "inference_s": ti,
        "warm_scf_s": tw,
        "net_saving_%": (100.0 * (tb - ti - tw) / tb) if tb > 0 else None,
        "median_saving_%": None if per["median"] is None else 100.0 * per["median"],
    }


def summarize(rows: Sequence[dict]) -> dict:
    """Tables 2 (s-AUC), 3 (iterations saved, %) and the wall clock, per split.

    Only rows with ``status == "ok"`` enter the statistics; failed rows are
    counted in ``failed`` per split.
    """
    groups = _groups(rows)
    out: dict = {"splits": list(groups), "s_auc": {}, "iterations_saved_%": {}, "wall_clock": {}}
    out["failed"] = {s: sum(1 for r in g if r.get("status") != "ok") for s, g in groups.items()}
    for split, group in groups.items():
        ok = _ok(group)
        out["s_auc"][split] = summary_stats(r.get("s_auc") for r in ok)
        out["iterations_saved_%"][split] = _percent(
            summary_stats(r.get("iterations_saved") for r in ok)
        )
        out["wall_clock"][split] = wall_clock_stats(ok)
    return out


def _fmt(x: float | None, digits: int = 3) -> str:
    """Format like the paper: ``digits`` significant digits, a × 10^k beyond 1000."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x != 0 and abs(x) >= 1000:
        exp = int(math.floor(math.log10(abs(x))))
        return f"{x / 10**exp:.1f} × 10^{exp}"
    return f"{x:.{digits}g}"


def _pct(x: float | None) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:+.1f}"


def _stats_table(title: str, table: dict, unit: str) -> list[str]:
    u = f" ({unit})" if unit else ""
    lines = [
        f"### {title}",
        "",
        f"| split | N | N₊ | N₊/N (%) | Mean{u} | Median{u} | Max{u} | Min{u} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for split, s in table.items():
        pct = "–" if s["N+/N %"] is None else f"{s['N+/N %']:.0f}"
        lines.append(
            f"| {split} | {s['N']} | {s['N+']} | {pct} | {_fmt(s['mean'])} | "
            f"{_fmt(s['median'])} | {_fmt(s['max'])} | {_fmt(s['min'])} |"
        )
    return lines + [""]


def to_markdown(summary: dict) -> str:
    """Markdown rendering of :func:`summarize`'s output (tables 2, 3, wall clock)."""
    lines = ["## Summary of SCF savings", ""]
    lines += _stats_table(
        "Table 2: s-AUC (positive: learned start converges faster)", summary["s_auc"], ""
    )
    lines += _stats_table(
        "Table 3: relative iterations saved at convergence", summary["iterations_saved_%"], "%"
    )
    lines += [
        "### Wall clock (inference included)",
        "",
        "| split | N | N₊ (faster) | baseline SCF (s) | inference (s) | warm SCF (s) "
        "| net saving (%) | median saving (%) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for split, w in summary["wall_clock"].items():
        lines.append(
            f"| {split} | {w['N']} | {w['N+']} | {w['baseline_scf_s']:.1f} | "
            f"{w['inference_s']:.2f} | {w['warm_scf_s']:.1f} | {_pct(w['net_saving_%'])} | "
            f"{_pct(w['median_saving_%'])} |"
        )
    failed = {s: n for s, n in summary.get("failed", {}).items() if n}
    if failed:
        listed = ", ".join(f"{s}: {n}" for s, n in failed.items())
        lines += ["", f"Failed structures (excluded above): {listed}"]
    return "\n".join(lines) + "\n"
