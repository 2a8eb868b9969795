"""Where a model's density falls short, element by element (docs/ablation.md).

For each model (an ablation row's per-structure results, the per-cell rows of
``uncertainty_calibration.py``, or ``shrink_curve.py``'s at one c) and one split, the
Hartree share of Δρ captured (%) per cell is grouped by the elements the cell holds: per
element the cells, their mean captured, their mean deficit (100 − captured) and that
element's share of the split's whole deficit (a cell with two elements counts for both, so
shares add up to more than 100%). With several models, each element's mean captured is also
given as a difference from the first model on the cells both have. The worst cells close
each model's list.

    python benchmarks/element_deficit.py --model shipped=U --model wide16=A:ROW \\
        --split test -o benchmarks/results_element_deficit.json

(U: ``benchmarks/results_uncertainty_calibration_val206_pairradial16000.json``; A:
``benchmarks/results_ablation_pairradial16_16000.json``, ROW
``features-ensemble-shrink@16000``.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from ase.formula import Formula

#: Worst cells listed per model.
WORST = 8


def cell_elements(cell_id: str) -> set[str]:
    """The elements of a dataset id ``prototype-Formula`` (an optional ``~cN`` suffix names a
    strained copy): ``half-heusler-RhCrSi~c1`` -> {"Rh", "Cr", "Si"}."""
    formula = cell_id.split("~")[0].rsplit("-", 1)[-1]
    return set(Formula(formula).count())


def captured_by_cell(path: Path, row: str | None, split: str) -> dict[str, float]:
    """id -> captured (%) of one split from a results file: ``uncertainty_calibration.py``'s
    ``cells`` (split ``val`` or ``test``), the ablation row ``row``'s per-structure
    results (``val``: ``val_per_structure``; ``test``: ``per_structure``), or
    ``shrink_curve.py``'s cells at c = ``row`` (by default the c chosen on all of ``val``)."""
    data = json.loads(path.read_text())
    if "at_c" in data:
        c = row or str(data["subsets"]["val"]["chosen_c"])
        if c not in data["at_c"] or "cells" not in data["at_c"][c]:
            raise KeyError(f"{path} has no per-cell results at c = {c}")
        cells = data["at_c"][c]["cells"].get(split)
    elif "cells" in data and row is None:
        cells = data["cells"].get(split)
    elif row is not None and row in data.get("rows", {}):
        key = "val_per_structure" if split == "val" else "per_structure"
        cells = data["rows"][row].get(key)
    else:
        raise KeyError(f"{path} has no per-cell results" + (f" for row {row!r}" if row else ""))
    if cells is None:
        raise KeyError(f"{path} has no {split} cells")
    return {c["id"]: float(c["captured_pct"]) for c in cells}


def by_element(captured: dict[str, float]) -> dict[str, dict]:
    """Per element: cells, mean captured (%), mean deficit (%), share of the whole deficit (%);
    sorted by that share, largest first."""
    total = sum(100.0 - c for c in captured.values())
    groups: dict[str, list[float]] = defaultdict(list)
    for cell_id, c in captured.items():
        for element in cell_elements(cell_id):
            groups[element].append(c)
    out = {}
    for element, values in groups.items():
        deficit = sum(100.0 - c for c in values)
        out[element] = {
            "cells": len(values),
            "captured_mean_pct": sum(values) / len(values),
            "deficit_mean_pct": deficit / len(values),
            "deficit_share_pct": 100.0 * deficit / total if total else 0.0,
        }
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["deficit_share_pct"]))


def against(reference: dict[str, float], other: dict[str, float]) -> dict[str, float]:
    """Per element, other's mean captured minus the reference's, on the cells both have."""
    common = reference.keys() & other.keys()
    ref = by_element({k: reference[k] for k in common})
    new = by_element({k: other[k] for k in common})
    return {e: new[e]["captured_mean_pct"] - ref[e]["captured_mean_pct"] for e in ref}


def model_cells(spec: str, split: str) -> tuple[str, dict[str, float]]:
    """(label, id -> captured %) of a ``--model LABEL=FILE[:ROW]``; ValueError for a
    malformed spec or a missing file, KeyError for a file without such cells."""
    label, sep, source = spec.partition("=")
    path, _, row = source.partition(":")
    if not sep or not label or not Path(path).is_file():
        raise ValueError(f"wants LABEL=FILE[:ROW] with an existing file, not {spec!r}")
    return label, captured_by_cell(Path(path), row or None, split)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", required=True, help="LABEL=FILE[:ROW] (repeat)")
    ap.add_argument("--split", choices=("val", "test"), default="test")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    try:
        models = dict(model_cells(spec, args.split) for spec in args.model)
    except (ValueError, KeyError) as exc:  # json.JSONDecodeError is a ValueError
        ap.error(f"--model: {exc}")
    first = next(iter(models.values()))
    result: dict = {"split": args.split, "models": {}}
    for label, captured in models.items():
        worst = sorted(captured.items(), key=lambda kv: kv[1])[:WORST]
        result["models"][label] = {
            "cells": len(captured),
            "captured_mean_pct": sum(captured.values()) / len(captured),
            "elements": by_element(captured),
            "worst": [{"id": k, "captured_pct": v} for k, v in worst],
        }
        if captured is not first:
            result["models"][label]["captured_mean_minus_first_pct"] = against(first, captured)
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    for label, m in result["models"].items():
        top = ", ".join(
            f"{e} {v['deficit_mean_pct']:.1f} ({v['deficit_share_pct']:.0f}%)"
            for e, v in list(m["elements"].items())[:5]
        )
        print(f"{label}: {m['cells']} cells, captured {m['captured_mean_pct']:.2f}%; "
              f"mean deficit (share) by element: {top}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
