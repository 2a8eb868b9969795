"""Does an ensemble's disagreement u say how wrong it is, on validation and on test alike?

For the ensemble checkpoint MODEL and every structure of the snapshot's ``val`` and
``test*`` splits: u (the relative Hartree spread of the members, as the prediction's
metadata gives it), the captured share of Δρ's Hartree norm (with the model's shrinkage)
and the residual share r = 1 − captured (0: exact, 1: no better than the ACS). Per group
(``val``, ``test``): the Spearman correlation of u and r, the median of r / u² (the
calibration the shrinkage s = 1 / (1 + c u²) relies on: one value for all cells when u is
calibrated), and the cells whose r / u² exceeds the largest on validation, worst first:
the cells that u under-reports by more than any validation cell does, which a shrinkage
chosen on validation cannot catch. Writes JSON.

With SCF results of the same model (``--val-scf FILE:MODEL``, a ``compare_val_scf.py``
output; ``--test-scf FILE:LABEL``, a ``paper.py`` result), also per group: the Spearman
correlation of u and the share of iterations saved, and the cells above the 90th
percentile of validation u (where a fall-back to the ACS on u would act): how many, the
share they save, how many are slower than the ACS; and every slower cell with its u.

    python benchmarks/uncertainty_calibration.py src/rhocat/pretrained/default.pt \\
        benchmarks/dataset/dataset --snapshot benchmarks/full_snapshot.json \\
        -o benchmarks/results_uncertainty_calibration.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shrink_curve import density_parser, load_ensemble, val_and_test  # noqa: E402


def cell_rows(model, samples) -> list[dict]:
    """Per structure: ``id``, ``uncertainty`` u, ``captured_pct`` and ``residual`` r."""
    from rhocat.evaluate.density import density_rows

    rows = density_rows(model, samples)
    return [
        {
            "id": r["id"],
            "uncertainty": float(r["uncertainty"]),
            "captured_pct": float(r["captured_pct"]),
            "residual": 1.0 - float(r["captured_pct"]) / 100.0,
        }
        for r in rows
    ]


def group_summary(rows: list[dict], ratio_limit: float | None = None) -> dict:
    """Spearman(u, r), median u, r and r / u², and the rows whose r / u² exceeds
    ``ratio_limit`` (worst first)."""
    from scipy.stats import spearmanr

    u = np.array([r["uncertainty"] for r in rows])
    res = np.array([r["residual"] for r in rows])
    ratio = res / np.maximum(u, 1e-12) ** 2
    out = {
        "n": len(rows),
        "spearman_u_residual": float(spearmanr(u, res).correlation),
        "uncertainty_median": float(np.median(u)),
        "residual_median": float(np.median(res)),
        "residual_over_u2_median": float(np.median(ratio)),
        "residual_over_u2_max": float(ratio.max()),
    }
    if ratio_limit is not None:
        beyond = [
            {**r, "residual_over_u2": float(q)}
            for r, q in zip(rows, ratio, strict=True)
            if q > ratio_limit
        ]
        out["beyond_validation"] = sorted(beyond, key=lambda r: -r["residual_over_u2"])
    return out


def val_scf_iterations(spec: str) -> dict[str, tuple[float, float]]:
    """{id: (ACS iterations, warm-start iterations)} from ``FILE:MODEL``, a
    ``compare_val_scf.py`` output and one of its models (the mean of its runs per cell)."""
    path, name = spec.rsplit(":", 1)
    model = json.loads(Path(path).read_text())["models"][name]
    key = model["threshold"]
    return {i: (float(c["acs"]), float(c[key])) for i, c in model["cells"].items()}


def paper_scf_iterations(spec: str) -> dict[str, tuple[float, float]]:
    """{id: (ACS iterations, warm-start iterations)} from ``FILE:LABEL``, a ``paper.py``
    result and the label of one of its models."""
    path, label = spec.rsplit(":", 1)
    rows = json.loads(Path(path).read_text())["models"][label]["per_structure"]
    return {r["id"]: (float(r["iterations_acs"]), float(r["iterations_model"])) for r in rows}


def scf_summary(rows: list[dict], iterations: dict, u_cut: float) -> dict:
    """Spearman(u, share saved) over the cells of ``rows`` with SCF results, and the cells
    above ``u_cut``: their count, mean share saved (%) and count slower than the ACS; and
    every slower cell with its u."""
    from scipy.stats import spearmanr

    from rhocat.evaluate.metrics import iterations_saved

    cells = [
        (r["id"], r["uncertainty"], *iterations[r["id"]]) for r in rows if r["id"] in iterations
    ]
    u = np.array([c[1] for c in cells])
    saved = 100.0 * np.array([iterations_saved(c[2], c[3]) for c in cells])
    slower = np.array([c[3] > c[2] for c in cells])
    high = u > u_cut
    return {
        "n": len(cells),
        "spearman_u_saved": float(spearmanr(u, saved).correlation),
        "u_cut": float(u_cut),
        "above_cut": {
            "n": int(high.sum()),
            "saved_pct_mean": float(saved[high].mean()) if high.any() else None,
            "slower": int(slower[high].sum()),
        },
        "slower_cells": [
            {"id": c[0], "uncertainty": float(c[1]), "acs": c[2], "warm": c[3]}
            for c, slow in zip(cells, slower, strict=True)
            if slow
        ],
    }


def main(argv: list[str] | None = None) -> int:

    ap = density_parser(__doc__)
    ap.add_argument("--val-scf", help="FILE:MODEL, compare_val_scf.py's output and model")
    ap.add_argument("--test-scf", help="FILE:LABEL, a paper.py result and its model's label")
    args = ap.parse_args(argv)
    model = load_ensemble(ap, args.model)
    val_samples, test_samples = val_and_test(args.dataset, args.snapshot)
    val, test = cell_rows(model, val_samples), cell_rows(model, test_samples)
    val_summary = group_summary(val)
    out = {
        "model": args.model,
        "snapshot": args.snapshot,
        "val": val_summary,
        "test": group_summary(test, ratio_limit=val_summary["residual_over_u2_max"]),
        "cells": {"val": val, "test": test},
    }
    u_cut = float(np.quantile([r["uncertainty"] for r in val], 0.9))
    for group, spec, read in (("val", args.val_scf, val_scf_iterations),
                              ("test", args.test_scf, paper_scf_iterations)):  # fmt: skip
        if spec:
            try:
                iterations = read(spec)
            except (OSError, KeyError, ValueError) as exc:
                ap.error(f"--{group}-scf {spec}: cannot read its iterations ({exc!r})")
            out[group]["scf"] = scf_summary(out["cells"][group], iterations, u_cut)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(json.dumps({k: out[k] for k in ("val", "test")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
