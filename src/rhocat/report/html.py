"""A self-contained HTML report of an evaluation (figures embedded as base64 PNG)."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os
from collections.abc import Sequence
from pathlib import Path

from rhocat.evaluate.results import load_manifest, load_rows, write_text_atomic
from rhocat.evaluate.tables import summarize
from rhocat.report import figures

CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1150px;color:#222;line-height:1.4;padding:0 16px}
h1{margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:3px;margin-top:34px}
.meta{color:#666;font-size:13px}
.cards{display:flex;gap:14px;flex-wrap:wrap;margin:18px 0}
.card{flex:1 1 200px;border:1px solid #ddd;border-radius:8px;padding:12px 16px;background:#fafafa}
.card .v{font-size:28px;font-weight:600}.card .k{color:#555;font-size:13px}
.good{color:#1a7f37}.bad{color:#c62828}
table{border-collapse:collapse;margin:10px 0 18px;font-size:14px}
th,td{border:1px solid #ddd;padding:4px 9px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:6px 0}
.caption{color:#555;font-size:13px;margin-top:-2px}
details summary{cursor:pointer;font-weight:600;margin:10px 0}
"""


def _img(fig) -> str:
    if fig is None:
        return '<p class="caption">(nothing to draw: no rows carry this quantity)</p>'
    data = base64.b64encode(figures.to_png(fig)).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, int):
        return str(x)
    if x != 0 and abs(x) >= 1000:
        exp = int(math.floor(math.log10(abs(x))))
        return f"{x / 10**exp:.1f}×10<sup>{exp}</sup>"
    return f"{x:.{digits}g}"


def _pct(x) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:+.1f}"


def _stats_table(table: dict, unit: str) -> str:
    u = f" ({unit})" if unit else ""
    head = "".join(
        f"<th>{h}</th>"
        for h in ["split", "N", "N₊", "N₊/N (%)", f"Mean{u}", f"Median{u}", f"Max{u}", f"Min{u}"]
    )
    body = []
    for split, s in table.items():
        pct = "–" if s["N+/N %"] is None else f"{s['N+/N %']:.0f}"
        cells = [
            html.escape(split),
            s["N"],
            s["N+"],
            pct,
            _fmt(s["mean"]),
            _fmt(s["median"]),
            _fmt(s["max"]),
            _fmt(s["min"]),
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _wall_table(table: dict) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in [
            "split",
            "N",
            "N₊ (faster)",
            "ACS-start SCF (s)",
            "inference (s)",
            "warm SCF (s)",
            "net saving (%)",
            "median saving (%)",
        ]
    )
    body = []
    for split, w in table.items():
        cells = [
            html.escape(split),
            w["N"],
            w["N+"],
            f"{w['baseline_scf_s']:.1f}",
            f"{w['inference_s']:.2f}",
            f"{w['warm_scf_s']:.1f}",
            _pct(w["net_saving_%"]),
            _pct(w["median_saving_%"]),
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _rows_table(rows: Sequence[dict]) -> str:
    cols = [
        ("id", "id"),
        ("split", "split"),
        ("status", "status"),
        ("s-AUC", "s_auc"),
        ("iter. saved (%)", "iterations_saved"),
        ("ACS iters", None),
        ("warm iters", None),
        ("NMAE (%)", "nmae"),
        ("ΔE (Ry)", "energy_diff_ry"),
        ("Δgap (eV)", "band_gap_diff_ev"),
        ("inference (s)", "inference_s"),
        ("warm SCF (s)", "scf_s"),
        ("ACS SCF (s)", "baseline_scf_s"),
    ]
    head = "".join(f"<th>{html.escape(c)}</th>" for c, _ in cols)
    body = []
    for r in rows:
        cells = []
        for name, key in cols:
            if name == "ACS iters":
                v = (r.get("baseline") or {}).get("iterations")
            elif name == "warm iters":
                v = (r.get("learned") or {}).get("iterations")
            else:
                v = r.get(key)
            if key in ("iterations_saved", "nmae") and isinstance(v, float):
                v = 100 * v
            if key == "status" and v != "ok":
                v = f"{v}: {r.get('error', '')}"
            cells.append(html.escape(str(v)) if isinstance(v, str) else _fmt(v))
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _threshold(manifest: dict) -> str:
    settings = manifest.get("settings") or {}
    if "pw_file_threshold" in settings:
        pw_file = settings["pw_file_threshold"]
    elif "same_first_threshold" in settings:  # results written before the model card said
        pw_file = not settings["same_first_threshold"]
    else:
        return "?"
    return (
        "pw.x's own for a file start (1e-5)"
        if pw_file
        else "the prediction's (the model card's, else pw.x's 1e-5; the ACS fallback's 1e-2)"
    )


def _card(value: str, key: str, cls: str = "") -> str:
    return f'<div class="card"><div class="v {cls}">{value}</div><div class="k">{key}</div></div>'


def _headline(summary: dict) -> str:
    tests = [s for s in summary["splits"] if s.startswith("test")]
    key = "test (all)" if "test (all)" in summary["splits"] else (tests[0] if tests else None)
    if key is None and summary["splits"]:
        key = summary["splits"][-1]
    if key is None:
        return ""
    sa = summary["s_auc"][key]
    it = summary["iterations_saved_%"][key]
    wc = summary["wall_clock"][key]
    cards = []
    if sa["N"]:
        pct = sa["N+/N %"]
        cards.append(
            _card(
                f"{pct:.0f}%",
                f"{key}: structures converging faster than ACS by s-AUC ({sa['N+']} of {sa['N']})",
                "good" if pct >= 50 else "bad",
            )
        )
    if it["N"]:
        cards.append(
            _card(
                f"{it['mean']:+.1f}%",
                f"{key}: mean iterations saved (median {it['median']:+.1f}%)",
                "good" if it["mean"] > 0 else "bad",
            )
        )
    if wc["N"] and wc["net_saving_%"] is not None:
        cards.append(
            _card(
                f"{wc['net_saving_%']:+.1f}%",
                f"{key}: net wall-clock saving, inference included "
                f"({wc['baseline_scf_s']:.0f} s → {wc['inference_s'] + wc['warm_scf_s']:.0f} s)",
                "good" if wc["net_saving_%"] > 0 else "bad",
            )
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def render_report(rows: Sequence[dict], manifest: dict | None = None, title: str = "") -> str:
    """The report as one HTML string (figures embedded)."""
    manifest = manifest or {}
    summary = summarize(rows)
    title = title or "rhocat warm-start evaluation"
    n_ok = sum(1 for r in rows if r.get("status") == "ok")
    meta = (
        f"model {html.escape(str(manifest.get('model', '?')))} "
        f"(sha256 {html.escape(str(manifest.get('model_sha256', '?'))[:12])}…) · "
        f"dataset {html.escape(str(manifest.get('dataset', '?')))} · "
        f"{n_ok} of {len(rows)} structures evaluated · "
        f"warm runs' first diagonalization threshold: {_threshold(manifest)} · "
        f"generated {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}"
    )
    becsum = sorted({str(r.get("becsum_source")) for r in rows if r.get("becsum_source")})
    notes = ""
    if "atomic-fallback" in becsum:
        notes = (
            '<p class="bad">PAW on-site occupations were not predicted for some structures: '
            "their warm starts used atomic occupations (becsum_source = atomic-fallback), "
            "which is known to cost iterations.</p>"
        )
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><div class='meta'>{meta}</div>",
        _headline(summary),
        notes,
        "<h2>SCF savings (Tables 2 and 3)</h2>",
        "<h3>s-AUC (equation 2; &gt; 0: the learned start converges faster)</h3>",
        _stats_table(summary["s_auc"], ""),
        "<h3>Relative iterations saved at convergence</h3>",
        _stats_table(summary["iterations_saved_%"], "%"),
        "<h2>Wall clock (inference included)</h2>",
        _wall_table(summary["wall_clock"]),
        _img(figures.wall_clock_figure(rows)),
        "<p class='caption'>ACS-start SCF re-run in the same evaluation as the warm start.</p>",
        "<h2>Convergence of the top test structures (Figure 6)</h2>",
        _img(figures.convergence_figure(rows)),
        "<p class='caption'>Red solid: ACS start (baseline). Blue dashed: learned start. "
        "Same pw.x parameters as the ground-truth run.</p>",
        "<h2>Distributions (Figures 4 and 5)</h2>",
        _img(figures.s_auc_figure(rows)),
        _img(figures.iterations_figure(rows)),
        "<h2>Density error per split (Figure 2)</h2>",
        _img(figures.mae_figure(rows)),
        "<h2>Density projections, best and worst test structures (Figure 3)</h2>",
        _img(figures.projection_figure(rows)),
        "<details><summary>Every structure</summary>",
        _rows_table(rows),
        "</details></body></html>",
    ]
    return "\n".join(parts)


def build_report(results_dir: str | os.PathLike, out: str | os.PathLike, title: str = "") -> Path:
    """Write the HTML report of a results folder to ``out`` (atomic write).

    Raises:
        InputError: not a results folder, no rows in it, or ``out`` is a folder or under
            a file (checked before rendering).
        OSError: ``out`` cannot be written (read-only, full); nothing is left behind.
    """
    from rhocat.errors import InputError
    from rhocat.fileio import check_output_file

    out = Path(out)
    check_output_file(out)
    rows = load_rows(results_dir)
    if not rows:
        raise InputError(f"{results_dir}: no evaluated structures yet")
    text = render_report(rows, load_manifest(results_dir), title)
    write_text_atomic(out, text)
    return out
