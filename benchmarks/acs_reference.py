"""A model's SCF iterations on the test cells against two references: pw.x's own atomic
start and rhocat's noise-free ACS read from file.

pw.x's atomic start adds random noise to the PAW occupations (``benchmarks/acs_replay.py``);
rhocat's starts do not. So against pw.x's start a warm start's saving holds the noise's
absence too. Here the ACS's count of each cell is also taken from ``scf_sensitivity.py``'s
``acs+0*pred`` start (the ACS, atomic occupations without noise, atomic threshold) and the
model's figures are given against both. ``--reference`` names another row of those files
as the second reference, e.g. ``'pw.x atomic, startingwfc=atomic'`` (pw.x's own atomic
start without the noise, ``scf_sensitivity.py --startingwfc atomic``). Prints JSON.

    python benchmarks/acs_reference.py benchmarks/results_paper_full.json --model default \
        --acs benchmarks/results_scf_sensitivity_test_acs.json[,...] \
        [--reference 'acs+0*pred'] [-o benchmarks/results_acs_reference.json]

``--warm THRESHOLD:FILE[,FILE...]`` takes the model's iterations from
``first_threshold.py`` outputs at that threshold instead (warm starts re-run with other
settings, e.g. ``--startingwfc atomic``; the paper.py result then gives the ACS counts).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

FILE_ACS = "acs+0*pred"


def figures(pairs: dict[str, tuple[float, float]]) -> dict:
    """Cell -> (reference, model) iterations: saved share per cell (mean, median, %),
    totals and the cells the model needs more for."""
    saved = [100.0 * (ref - mod) / ref for ref, mod in pairs.values()]
    return {
        "n": len(pairs),
        "iterations_reference": sum(r for r, _ in pairs.values()),
        "iterations_model": sum(m for _, m in pairs.values()),
        "iterations_saved_percent_mean": statistics.fmean(saved) if saved else None,
        "iterations_saved_percent_median": statistics.median(saved) if saved else None,
        "slower_ids": sorted(c for c, (r, m) in pairs.items() if m > r),
    }


def compare(paper: dict, model: str, acs_rows: dict, reference: str = FILE_ACS) -> dict:
    """The model's figures against pw.x's atomic start and against ``reference`` (a row of
    the ``scf_sensitivity.py`` outputs: by default the file-read ACS), on the cells that
    have a count for it."""
    rows = {r["id"]: r for r in paper["models"][model]["per_structure"]}
    cells = sorted(c for c in rows if acs_rows.get(c, {}).get(reference) is not None)
    pw = {c: (rows[c]["iterations_acs"], rows[c]["iterations_model"]) for c in cells}
    ours = {c: (acs_rows[c][reference], rows[c]["iterations_model"]) for c in cells}
    replay = {c: acs_rows[c]["pw.x atomic"] for c in cells if "pw.x atomic" in acs_rows[c]}
    mismatch = sorted(c for c, n in replay.items() if n != rows[c]["iterations_acs"])
    return {
        "model": model,
        "reference": reference,
        "against_pw_atomic_start": figures(pw),
        "against_reference": figures(ours),
        "reference_against_pw_atomic_start": figures(
            {c: (rows[c]["iterations_acs"], acs_rows[c][reference]) for c in cells}
        ),
        "cells": {
            c: {"pw_atomic": pw[c][0], "reference": ours[c][0], "model": pw[c][1]} for c in cells
        },  # fmt: skip
        "replays_not_matching_the_benchmark": mismatch,
        "missing": sorted(set(rows) - set(cells)),
    }


def with_warm_runs(paper: dict, model: str, threshold: str, files: str) -> dict:
    """``paper`` with ``model``'s per-cell warm iterations replaced by those of the
    ``first_threshold.py`` outputs ``files`` at ``threshold``; cells they lack are dropped.
    Their ACS counts must be the paper's (the same pw.x runs)."""
    warm: dict = {}
    for path in files.split(","):
        warm.update(json.loads(Path(path).read_text())["rows"])
    rows = []
    for r in paper["models"][model]["per_structure"]:
        w = warm.get(r["id"], {})
        if w.get(threshold) is None:
            continue
        if int(w["acs"]) != r["iterations_acs"]:
            raise SystemExit(f"{r['id']}: ACS {w['acs']} in {files}, {r['iterations_acs']} here")
        rows.append({**r, "iterations_model": int(w[threshold])})
    return {"models": {model: {"per_structure": rows}}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("paper", help="a paper.py result (per-structure iterations)")
    ap.add_argument("--model", default="default")
    ap.add_argument("--acs", required=True, help="FILE[,FILE...]: scf_sensitivity.py outputs")
    ap.add_argument("--reference", default=FILE_ACS,
                    help=f"row key of the second reference (default {FILE_ACS!r})")  # fmt: skip
    ap.add_argument("--warm", default=None,
                    help="THRESHOLD:FILE[,FILE...]: first_threshold.py outputs")  # fmt: skip
    ap.add_argument("-o", "--output", default=None)
    args = ap.parse_args(argv)
    paper = json.loads(Path(args.paper).read_text())
    if args.model not in paper.get("models", {}):
        ap.error(f"{args.paper} has no model {args.model!r}")
    if args.warm:
        paper = with_warm_runs(paper, args.model, *args.warm.split(":", 1))
    acs_rows: dict = {}
    for path in args.acs.split(","):  # a cell's runs may be spread over several files
        for cell, runs in json.loads(Path(path).read_text())["rows"].items():
            acs_rows.setdefault(cell, {}).update(runs)
    out = compare(paper, args.model, acs_rows, args.reference)
    if not out["cells"]:
        ap.error(f"no cell has a {args.reference!r} count in {args.acs}")
    text = json.dumps(out, indent=1)
    if args.output:
        Path(args.output).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
