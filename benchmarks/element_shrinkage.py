"""Does a shrinkage calibrated per element beat one c for all structures?

The ensemble's shrinkage s = 1 / (1 + c u²) uses one c, chosen on validation. Where the
members agree but are wrong together (an element whose chemistry training misleads them
all), the residual r = 1 − captured is large for its u, and a larger c there would keep
less of Δρ̄. Here each element e gets its own c_e and a structure S the most cautious of
its elements, c_S = max_{e ∈ S} c_e. The c_e are fitted by coordinate ascent on ``GRID``
(every c_e starts at the global c chosen on the same cells; elements in order of atomic
number; sweeps until none changes, at most ``MAX_SWEEPS``), maximizing the mean captured
share of the fitting cells in closed form (:func:`captured_after_shrink`, no SCF).

Judged by leave-one-system-out cross-validation on ``val``: for every validation system
(the set of elements of a cell) the c_e and the global c are fitted on the other systems'
cells, and the held-out cells are scored with each. Elements absent from the fitting cells
keep the global c. ``--start zero`` starts every c_e at 0 instead (a sensitivity check:
from the global c, elements that only appear together cannot lower their c_e one at a
time). Then the c_e fitted on all of ``val``, with validation and test figures
at them (test reported, never used to choose). Writes JSON.

    python benchmarks/element_shrinkage.py src/rhocat/pretrained/default.pt \\
        benchmarks/dataset/dataset --snapshot benchmarks/full_snapshot_val206.json \\
        -o benchmarks/results_element_shrinkage_val206.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shrink_curve import density_parser, load_ensemble, val_and_test  # noqa: E402

GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
MAX_SWEEPS = 5


def structure_c(elements: list[frozenset], c_of: dict[int, float], c_global: float) -> np.ndarray:
    """c_S = max over the structure's elements of c_e (``c_global`` for an element without one)."""
    return np.array([max(c_of.get(z, c_global) for z in els) for els in elements])


def captured(stats: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Each cell's captured share (%) of its Δρ Hartree norm at s = 1 / (1 + c u²), from
    its :func:`shrinkage_stats` row and its own c."""
    from rhocat.models.ensemble import captured_after_shrink, shrink_factor

    return captured_after_shrink(stats, shrink_factor(c, stats[:, 3]))


def mean_captured(stats: np.ndarray, c: np.ndarray) -> float:
    """Mean captured share (%) of the cells of ``stats``, each shrunk with its own c."""
    return float(np.mean(captured(stats, c)))


def fit_global(stats: np.ndarray) -> float:
    """The c of ``GRID`` with the largest mean captured share (ties: the smaller c)."""
    from rhocat.models.ensemble import choose_shrink_c

    return choose_shrink_c(stats, GRID)[0]


def fit_elements(
    stats: np.ndarray, elements: list[frozenset], start: str = "global"
) -> tuple[float, dict[int, float]]:
    """(global c, {Z: c_e}) by coordinate ascent (module docstring), every c_e starting at
    the global c (``start="global"``) or at 0 (``"zero"``). From the global c, the c_e of
    elements that always appear together cannot fall one at a time (c_S is their max);
    from 0 every c_e can only rise."""
    c_global = fit_global(stats)
    present = sorted(set().union(*elements))
    c_of = {z: (c_global if start == "global" else 0.0) for z in present}
    for _ in range(MAX_SWEEPS):
        changed = False
        for z in present:
            scores = {}
            for c in GRID:
                trial = {**c_of, z: c}
                scores[c] = mean_captured(stats, structure_c(elements, trial, c_global))
            best = max(scores, key=lambda c: (scores[c], -abs(c - c_of[z]), -c))
            if best != c_of[z] and scores[best] > scores[c_of[z]] + 1e-12:
                c_of[z] = best
                changed = True
        if not changed:
            break
    return c_global, c_of


def leave_one_system_out(
    stats: np.ndarray, elements: list[frozenset], start: str = "global"
) -> dict:
    """Each validation cell's captured share (%) with the global c and with the c_e fitted
    on the other systems' cells."""
    keys = np.array([",".join(map(str, sorted(e))) for e in elements])
    systems = sorted(set(keys))
    glob = np.zeros(len(stats))
    per_el = np.zeros(len(stats))
    c_cells = np.zeros(len(stats))
    for sys_ in systems:
        held = keys == sys_
        rest = [e for e, h in zip(elements, held, strict=True) if not h]
        c_global, c_of = fit_elements(stats[~held], rest, start)
        held_els = [e for e, h in zip(elements, held, strict=True) if h]
        glob[held] = captured(stats[held], np.full(int(held.sum()), c_global))
        c_cells[held] = structure_c(held_els, c_of, c_global)
        per_el[held] = captured(stats[held], c_cells[held])
    return {"systems": len(systems), "global": glob, "per_element": per_el, "c": c_cells}


def summary(cap: np.ndarray) -> dict:
    """Mean, median and worst of the captured shares ``cap`` (%), and how many are below 0."""
    return {
        "n": int(len(cap)),
        "captured_mean": float(cap.mean()),
        "captured_median": float(np.median(cap)),
        "captured_worst": float(cap.min()),
        "below_acs": int((cap < 0).sum()),
    }


def main(argv: list[str] | None = None) -> int:
    from ase.data import chemical_symbols

    from rhocat.models.ensemble import shrink_factor, shrinkage_stats

    ap = density_parser(__doc__)
    ap.add_argument(
        "--start",
        choices=("global", "zero"),
        default="global",
        help="where every c_e starts its coordinate ascent (the rule: global)",
    )
    args = ap.parse_args(argv)
    model = load_ensemble(ap, args.model)
    val, test = val_and_test(args.dataset, args.snapshot)
    val_stats, test_stats = shrinkage_stats(model, val), shrinkage_stats(model, test)
    val_els = [frozenset(int(z) for z in s.numbers) for s in val]
    test_els = [frozenset(int(z) for z in s.numbers) for s in test]

    cv = leave_one_system_out(val_stats, val_els, args.start)
    c_global, c_of = fit_elements(val_stats, val_els, args.start)
    named = {chemical_symbols[z]: c for z, c in sorted(c_of.items())}
    val_c = structure_c(val_els, c_of, c_global)
    test_c = structure_c(test_els, c_of, c_global)
    u_val, u_test = val_stats[:, 3], test_stats[:, 3]

    def cells(samples, stats, c_cells):
        u = stats[:, 3]
        return [
            {
                "id": s.id,
                "uncertainty": float(uu),
                "c": float(cc),
                "shrink_global": float(shrink_factor(c_global, uu)),
                "shrink": float(shrink_factor(cc, uu)),
                "captured_global_pct": float(g),
                "captured_pct": float(p),
            }
            for s, uu, cc, g, p in zip(
                samples,
                u,
                c_cells,
                captured(stats, np.full(len(stats), c_global)),
                captured(stats, c_cells),
                strict=True,
            )
        ]

    out = {
        "model": args.model,
        "snapshot": args.snapshot,
        "start": args.start,
        "grid": list(GRID),
        "cross_validation": {
            "systems": cv["systems"],
            "global": summary(cv["global"]),
            "per_element": summary(cv["per_element"]),
            "gain_points": float(cv["per_element"].mean() - cv["global"].mean()),
            "cells": [
                {
                    "id": s.id,
                    "c": float(c),
                    "captured_global_pct": float(g),
                    "captured_pct": float(p),
                }
                for s, c, g, p in zip(val, cv["c"], cv["global"], cv["per_element"], strict=True)
            ],  # fmt: skip
        },
        "fit_on_val": {"c_global": c_global, "c_elements": named},
        "val": {
            "global": summary(captured(val_stats, np.full(len(val), c_global))),
            "per_element": summary(captured(val_stats, val_c)),
            "cells_shrink_down_0.05": int(
                np.sum(shrink_factor(c_global, u_val) - shrink_factor(val_c, u_val) > 0.05)
            ),
        },
        "test": {
            "global": summary(captured(test_stats, np.full(len(test), c_global))),
            "per_element": summary(captured(test_stats, test_c)),
            "cells_shrink_down_0.05": int(
                np.sum(shrink_factor(c_global, u_test) - shrink_factor(test_c, u_test) > 0.05)
            ),
        },
        "cells": {"val": cells(val, val_stats, val_c), "test": cells(test, test_stats, test_c)},
    }
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(json.dumps({k: out[k] for k in ("fit_on_val", "val", "test")}, indent=1))
    print(json.dumps({k: v for k, v in out["cross_validation"].items() if k != "cells"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
