"""Two models' warm starts on the same validation cells, each at its own first threshold.

Reads ``benchmarks/first_threshold.py`` outputs (several per model when the cells were run
in parts) and writes, per model, the iterations of every cell (the ACS's and the warm
start's at the threshold given) and first_threshold.py's summary (mean and median share
saved per cell, slower cells) with the iterations in all, and the cells slower than the
ACS on every one of their runs (``slower_every_run``: a cell with repeats whose runs
straddle the ACS is not counted). The decision rule (``--rule``, text) is stored with them.

    python benchmarks/compare_val_scf.py \
        --model old=0.01:benchmarks/results_first_threshold_val.json,/tmp/ft_old_rest.json \
        --model new=file:benchmarks/results_first_threshold_val_iodides.json,/tmp/ft_new_rest.json \
        [--repeats new=benchmarks/results_scf_repeats_val_iodides.json ...] \
        [--acs-repeats benchmarks/results_scf_sensitivity_val_crfe.json] \
        --rule "..." -o benchmarks/results_val_scf_iodides.json

``--acs-repeats`` (``scf_sensitivity.py`` outputs with the scaled ACS starts
``acs*(1±ε)``) does for the ACS what ``--repeats`` does for a model: the ACS count of those
cells becomes the mean of its runs, for every model. The output's ``"acs_null"`` then says
how often the ACS itself counts as slower than its first run by that mean (the slower-cell
count of a model that is the ACS).

``"paired"`` compares every other model with the first ``--model``, cell by cell: the
difference in iterations in all, how many cells each wins, and a 95% bootstrap interval of
that difference over cells (cells resampled with replacement, seeded). An interval that
holds 0 says the validation cells cannot tell the two models apart in iterations.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from first_threshold import summary  # noqa: E402


def model_rows(threshold: str, paths: list[str]) -> dict:
    """Cell id -> {"acs": n, THRESHOLD: n} from first_threshold.py outputs (cells measured at
    ``threshold`` only; a cell in several files takes the last file's run)."""
    rows: dict = {}
    for path in paths:
        for cid, r in json.loads(Path(path).read_text())["rows"].items():
            if r.get(threshold) is not None:
                rows[cid] = {"acs": int(r["acs"]), threshold: int(r[threshold])}
    return rows


def average_repeats(rows: dict, threshold: str, paths: list[str]) -> dict:
    """``rows`` with the warm count of every cell in the ``scf_repeats.py`` outputs
    ``paths`` replaced by the mean over the first run and the repeats (``"runs"``: all
    counts). A repeat that did not converge is left out of the mean. A cell in several
    files takes the repeats of the last, as :func:`model_rows` takes its first run."""
    out = {cid: dict(r) for cid, r in rows.items()}
    repeats = {}
    for path in paths:
        repeats.update(json.loads(Path(path).read_text())["rows"])
    for cid, rep in repeats.items():
        if cid in out:
            runs = [out[cid][threshold]]
            runs += [n for k, n in rep.items() if k != "acs" and n is not None]
            out[cid][threshold] = float(sum(runs)) / len(runs)
            out[cid]["runs"] = runs
    return out


def acs_runs(paths: list[str]) -> dict:
    """Cell id -> the ACS's iteration counts: pw.x's atomic run first, then every converged
    ``acs*(1±ε)`` start of the ``scf_sensitivity.py`` outputs ``paths``."""
    out: dict = {}
    for path in paths:
        for cid, rep in json.loads(Path(path).read_text())["rows"].items():
            scaled = [n for k, n in rep.items() if k.startswith("acs*(") and n is not None]
            out[cid] = [rep["pw.x atomic"], *scaled]
    return out


def average_acs(rows: dict, runs: dict) -> dict:
    """``rows`` with the ACS count of every cell in ``runs`` replaced by their mean
    (``"acs_runs"``: all counts). The first run must be the cell's own ACS count."""
    out = {cid: dict(r) for cid, r in rows.items()}
    for cid, counts in runs.items():
        if cid not in out:
            continue
        if counts[0] != out[cid]["acs"]:
            raise SystemExit(
                f"{cid}: pw.x's atomic run needs {counts[0]} iterations, the dataset's "
                f"{out[cid]['acs']}: not the same run"
            )
        out[cid]["acs"] = float(sum(counts)) / len(counts)
        out[cid]["acs_runs"] = counts
    return out


def acs_null(runs: dict) -> dict:
    """The ACS as a model: cells whose mean of runs exceeds the first run."""
    slower = sorted(c for c, n in runs.items() if sum(n) / len(n) > n[0])
    return {
        "n": len(runs),
        "slower_than_first_run": len(slower),
        "slower_ids": slower,
        "iterations_first_run": sum(n[0] for n in runs.values()),
        "iterations_mean_of_runs": sum(sum(n) / len(n) for n in runs.values()),
    }


def paired(ref: dict, other: dict, resamples: int = 10000, seed: int = 0) -> dict:
    """``other`` against ``ref`` (models as in the output) on their common cells: the
    difference in warm-start iterations (other − ref; negative: ``other`` needs fewer), the
    cells each needs fewer iterations on, and the 2.5 / 97.5 (``bootstrap_95``) and 0.5 /
    99.5 (``bootstrap_99``: the bar of a second look) percentiles of the summed difference
    over ``resamples`` bootstrap draws of the cells."""
    import numpy as np

    cells = sorted(set(ref["cells"]) & set(other["cells"]))
    diff = np.array(
        [other["cells"][c][other["threshold"]] - ref["cells"][c][ref["threshold"]] for c in cells],
        dtype=float,
    )
    draws = np.random.default_rng(seed).integers(0, len(cells), size=(resamples, len(cells)))
    low99, low, high, high99 = np.percentile(diff[draws].sum(axis=1), [0.5, 2.5, 97.5, 99.5])
    return {
        "n": len(cells),
        "iterations_difference": float(diff.sum()),
        "bootstrap_95": [float(low), float(high)],
        "bootstrap_99": [float(low99), float(high99)],
        "cells_fewer": int((diff < 0).sum()),
        "cells_more": int((diff > 0).sum()),
        "cells_same": int((diff == 0).sum()),
    }


def slower_every_run(rows: dict, threshold: str) -> list[str]:
    """Cells slower than the ACS on every run: a cell with repeats (``"runs"``) only if each
    of its runs needs more iterations than the ACS count, a cell without them if its one
    run does. A cell whose runs straddle the ACS is not counted: pw.x's chaos, not the
    start, decides it."""
    return [cid for cid, r in rows.items() if min(r.get("runs", [r[threshold]])) > r["acs"]]


def summarize(rows: dict, threshold: str) -> dict:
    """first_threshold.py's summary at ``threshold``, with the iterations in all and the
    cells slower on every run (``slower_every_run``, beside the mean's ``slower_ids``)."""
    every = slower_every_run(rows, threshold)
    return {
        **summary(rows, [threshold])[threshold],
        "slower_every_run": len(every),
        "slower_every_run_ids": every,
        "iterations_acs": sum(r["acs"] for r in rows.values()),
        "iterations_warm": sum(r[threshold] for r in rows.values()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--model",
        action="append",
        required=True,
        help="NAME=THRESHOLD:FILE[,FILE...] (THRESHOLD as in first_threshold.py)",
    )
    ap.add_argument(
        "--repeats",
        action="append",
        default=[],
        help="NAME=FILE[,FILE...]: scf_repeats.py outputs averaged into NAME's cells",
    )
    ap.add_argument(
        "--acs-repeats",
        default="",
        help="FILE[,FILE...]: scf_sensitivity.py outputs whose scaled ACS starts are averaged "
        "into every model's ACS counts",
    )
    ap.add_argument("--rule", default="", help="the decision rule, stated before the runs")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    models = {}
    for spec in args.model:
        name, _, rest = spec.partition("=")
        threshold, _, files = rest.partition(":")
        models[name] = {"threshold": threshold, "cells": model_rows(threshold, files.split(","))}
    for spec in args.repeats:
        name, _, files = spec.partition("=")
        if name not in models:
            ap.error(f"--repeats {name}: no --model of that name")
        m = models[name]
        m["cells"] = average_repeats(m["cells"], m["threshold"], files.split(","))
    null = acs_runs([f for f in args.acs_repeats.split(",") if f])
    for m in models.values():
        m["cells"] = average_acs(m["cells"], null)
    common = set.intersection(*(set(m["cells"]) for m in models.values()))
    for m in models.values():
        m["cells"] = {c: r for c, r in sorted(m["cells"].items()) if c in common}
        m["summary"] = summarize(m["cells"], m["threshold"])
    out = {"rule": args.rule, "models": models}
    ref, *others = models
    if others:
        out["paired"] = {
            "reference": ref,
            **{name: paired(models[ref], models[name]) for name in others},
        }
    if null:
        out["acs_null"] = acs_null({c: n for c, n in null.items() if c in common})
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(json.dumps({k: m["summary"] for k, m in models.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
