"""Is it the density or the PAW occupations that makes a warm start less steady than the ACS?

For each structure rhocat predicts its warm start (``predict_restart``: density and, for PAW
species, the model's occupations shrunk by the ensemble's s, as shipped until
docs/scf-starts.md §7 chose atomic ones; the model's own whatever its card says). pw.x then runs
from the four combinations of a density and a set of occupations,

- ``pred+model``: the predicted density with the model's occupations (rhocat's warm start),
- ``pred+atomic``: the predicted density with the atomic occupations (QE's
  ``PAW_atomic_becsum`` without its random noise),
- ``acs+model``: the ACS density with the model's occupations,
- ``acs+atomic``: the ACS with the atomic occupations (the noise-free ACS),
- with ``--oracle`` also ``pred+converged``: the predicted density with the converged
  occupations of the dataset's reference run (an oracle no prediction may use: it asks
  whether more accurate occupations would help the predicted density),

each with its density scaled by 1 + ε on every G ≠ 0 (G = 0, the charge, unchanged; ε = 0
and ±1e-3: changes far below any model's error), all at one first diagonalization
threshold and one ``startingwfc`` so that only the start differs. Prints JSON: iterations
per start, ε and structure (None: not converged), and a summary per start (sum of the
per-cell means, mean per-cell range, cells slower than the noise-free ACS). Resumable.

    python benchmarks/occupation_swap.py MODEL --ids heusler-Fe2GaAs,zincblende-CrC~c1 \
        [--eps -0.001,0,0.001] [--threshold 0.01] [--startingwfc atomic] [--oracle] \
        -o benchmarks/results_occupation_swap.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from first_threshold import (  # noqa: E402
    add_run_arguments,
    predicted_start,
    refuse_other_settings,
    warm_overrides,
    with_occupations,
)
from scf_repeats import scaled_density  # noqa: E402

STARTS = ("pred+model", "pred+atomic", "acs+model", "acs+atomic")
ORACLE_STARTS = ("pred+converged",)
REFERENCE = "acs+atomic"
EPSILONS = (-1e-3, 0.0, 1e-3)


def swapped_starts(pred_dir: Path, atoms, family, eps_list, work: Path, converged=None) -> dict:
    """Restart folders {(start, str(ε)): Path} for every start of :data:`STARTS` and ε,
    built from rhocat's predicted folder ``pred_dir`` (its other files kept), and for
    :data:`ORACLE_STARTS` when ``converged`` (a ``Becsum``: the reference run's
    occupations) is given. Structures without PAW species have no occupations: only
    ``pred+model`` and ``acs+atomic``."""
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.save import copy_restart
    from rhocat.qe.start import acs_like

    pred = read_charge_density(pred_dir / "charge-density.dat")
    density = {"pred": pred, "acs": acs_like(pred, atoms, family)}
    atomic = atomic_becsum(atoms, family)
    occupations = {"model": None, "atomic": atomic, "converged": converged}  # None: keep
    names = STARTS if atomic is not None else ("pred+model", REFERENCE)
    if atomic is not None and converged is not None:
        names = names + ORACLE_STARTS
    folders = {}
    for name in names:
        rho, occ = name.split("+")
        for eps in eps_list:
            folder = work / f"{rho}-{occ}{eps:+g}"
            start = scaled_density(density[rho], eps) if eps else density[rho]
            folders[name, str(eps)] = copy_restart(pred_dir, folder, start, occupations[occ])
    return folders


def converged_becsum(sample):
    """The reference run's converged occupations of a dataset ``sample`` as a ``Becsum``,
    or None when it stores none (no PAW species)."""
    from rhocat.qe.paw import Becsum

    values = ((sample.meta or {}).get("paw") or {}).get("becsum")
    return None if values is None else Becsum(np.asarray(values, dtype=np.float64))


def swap_iterations(
    model, sample, family, work: Path, eps_list, threshold: str, startingwfc: str | None,
    ranks: int, done: dict | None = None, oracle: bool = False,
) -> dict:  # fmt: skip
    """{start: {str(ε): iterations or None}} for the runs not in ``done`` (kept as given).
    The predicted folder carries the model's own occupations whatever its card asks for;
    ``oracle``: also the starts of :data:`ORACLE_STARTS`."""
    from rhocat.qe.scf import run_scf

    out = {k: dict(v) for k, v in (done or {}).items()}
    own = with_occupations(model, "model")
    atoms, params, pred_dir = predicted_start(own, sample, family, work / "pred")
    over = warm_overrides(threshold, startingwfc)
    converged = converged_becsum(sample) if oracle else None
    folders = swapped_starts(pred_dir, atoms, family, eps_list, work, converged)
    for (name, eps), folder in folders.items():
        if eps in out.get(name, {}):
            continue
        res = run_scf(atoms, family=family, start=folder, parameters=params, overrides=over,
                      workdir=work / f"run-{folder.name}", ranks=ranks)  # fmt: skip
        out.setdefault(name, {})[eps] = res.iterations if res.converged else None
        print(sample.id, name, eps, out[name][eps], file=sys.stderr, flush=True)
    return out


def summarize(rows: dict) -> dict:
    """Per start: ``iterations`` (sum over cells of the mean of the runs), ``range_mean``
    and ``range_max`` (max − min of a cell's runs), ``slower_cells`` (mean above the
    noise-free ACS's mean) and ``runs_not_converged``. Cells where any run of any start
    did not converge enter only the count of those runs."""
    starts = [s for s in STARTS + ORACLE_STARTS if any(s in r for r in rows.values())]
    complete = {
        i: r for i, r in rows.items()
        if all(v is not None for s in starts for v in r.get(s, {}).values())
    }  # fmt: skip
    out = {
        "cells": len(complete),
        "cells_with_occupations": sum("acs+model" in r for r in complete.values()),
    }
    ref = {i: np.mean(list(r[REFERENCE].values())) for i, r in complete.items()}
    for start in starts:
        cells = {i: list(r[start].values()) for i, r in complete.items() if start in r}
        ranges = [max(v) - min(v) for v in cells.values()]
        out[start] = {
            "cells": len(cells),
            "iterations": float(sum(np.mean(v) for v in cells.values())),
            "range_mean": float(np.mean(ranges)) if ranges else None,
            "range_max": int(max(ranges)) if ranges else None,
            "slower_cells": sorted(i for i, v in cells.items() if np.mean(v) > ref[i] + 1e-9),
            "runs_not_converged": sum(
                v is None for r in rows.values() for v in r.get(start, {}).values()
            ),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.scf import STARTINGWFC_VALUES
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_run_arguments(ap, "comma-separated dataset entry ids")
    ap.add_argument("--eps", default=",".join(f"{e:g}" for e in EPSILONS),
                    help="comma-separated ε of the scaled densities (0: as predicted)")  # fmt: skip
    ap.add_argument("--threshold", default="0.01", help="'file' (pw.x's 1e-5) or a number")
    ap.add_argument("--startingwfc", choices=STARTINGWFC_VALUES, default="atomic",
                    help="startingwfc of every run (default: the shipped card's)")  # fmt: skip
    ap.add_argument("--oracle", action="store_true",
                    help="also the predicted density with the reference occupations")  # fmt: skip
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    try:
        eps_list = [float(e) for e in args.eps.split(",") if e.strip()]
    except ValueError as exc:
        ap.error(f"--eps: {exc}")
    if not eps_list:
        ap.error("--eps: give at least one ε")
    out_path = Path(args.output)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {"rows": {}}
    settings = {"threshold": args.threshold, "startingwfc": args.startingwfc}
    refuse_other_settings(ap, result, settings, out_path)
    result.update(model=args.model, threshold=args.threshold, startingwfc=args.startingwfc)
    ds = Dataset(args.data)
    model = load_model(args.model)
    family = load_family(ds.manifest.family)
    for i in args.ids.split(","):
        with tempfile.TemporaryDirectory(prefix="rhocat-occ-") as tmp:
            result["rows"][i] = swap_iterations(
                model, ds.load(i), family, Path(tmp), eps_list, args.threshold,
                args.startingwfc, args.ranks, done=result["rows"].get(i), oracle=args.oracle,
            )  # fmt: skip
        result["summary"] = summarize(result["rows"])
        out_path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
