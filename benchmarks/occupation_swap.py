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
- with ``--extra`` any other pair of a density (``pred``, ``acs``, ``ref``: the
  converged density of the dataset's reference run, or ``refNN``: the converged density
  plus NN% of the prediction's error, ref + 0.NN·(pred − ref)) and occupations
  (``model``, ``atomic``, ``converged``: the reference run's, or ``half``: midway between
  the model's and the atomic ones), e.g. ``pred+converged`` or ``ref+atomic``; ``ref``,
  ``refNN`` and ``converged`` are oracles no prediction may use (they ask what more
  accurate halves of the start would do),

each with its density scaled by 1 + ε on every G ≠ 0 (G = 0, the charge, unchanged; ε = 0
and ±1e-3: changes far below any model's error), all at one first diagonalization
threshold and one ``startingwfc`` so that only the start differs. Prints JSON: iterations
per start, ε and structure (None: not converged), and a summary per start (sum of the
per-cell means, mean per-cell range, cells slower than the noise-free ACS). Resumable.

    python benchmarks/occupation_swap.py MODEL --ids heusler-Fe2GaAs,zincblende-CrC~c1 \
        [--eps -0.001,0,0.001] [--threshold 0.01] [--startingwfc atomic] [--extra pred+converged] \
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
DENSITIES = ("pred", "acs", "ref")
OCCUPATIONS = ("model", "atomic", "converged", "half")
REFERENCE = "acs+atomic"
EPSILONS = (-1e-3, 0.0, 1e-3)


def swapped_starts(
    pred_dir: Path, atoms, family, eps_list, work: Path, extra=(), reference=None, pred=None
) -> dict:
    """Restart folders {(start, str(ε)): Path} for every start of :data:`STARTS` and of
    ``extra`` and every ε, built from rhocat's predicted folder ``pred_dir`` (its other
    files kept). ``reference``: (converged density, converged ``Becsum``) of the dataset's
    reference run, needed by the ``ref`` and ``converged`` starts. Structures without PAW
    species have no occupations: only ``pred+model``, ``acs+atomic`` and the ``extra``
    starts with ``model`` occupations. ``pred``: the predicted density if already read
    (a ``rhocat.qe.density`` record, e/bohr³), else read from ``pred_dir``."""
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.paw import Becsum, read_paw_txt
    from rhocat.qe.save import copy_restart
    from rhocat.qe.start import acs_like

    if pred is None:
        pred = read_charge_density(pred_dir / "charge-density.dat")
    ref_density, converged = reference or (None, None)
    density = {"pred": pred, "acs": acs_like(pred, atoms, family), "ref": ref_density}
    for name in extra:
        rho = name.split("+")[0]
        if rho not in density and ref_density is not None:
            density[rho] = between(ref_density, pred, error_share(rho))
    atomic = atomic_becsum(atoms, family)
    occupations = {"model": None, "atomic": atomic, "converged": converged}  # None: keep
    if atomic is not None:
        own = read_paw_txt(pred_dir / "paw.txt", len(atoms)).values
        occupations["half"] = Becsum(0.5 * (own + atomic.values))
    names = STARTS if atomic is not None else ("pred+model", REFERENCE)
    names = names + tuple(
        n for n in extra if n not in names and (atomic is not None or n.endswith("+model"))
    )
    folders = {}
    for name in names:
        rho, occ = name.split("+")
        if density.get(rho) is None or (occ == "converged" and converged is None):
            raise ValueError(f"start {name!r} needs the reference run's density and occupations")
        for eps in eps_list:
            folder = work / f"{rho}-{occ}{eps:+g}"
            start = scaled_density(density[rho], eps) if eps else density[rho]
            folders[name, str(eps)] = copy_restart(pred_dir, folder, start, occupations[occ])
    return folders


def reference_start(sample, pred_density):
    """(converged density, converged ``Becsum`` or None) of a dataset ``sample``, the density
    as a copy of ``pred_density`` (a ``rhocat.qe.density`` record on the same G vectors,
    e/bohr³) holding the sample's converged ρ(G)."""
    import dataclasses

    if not np.array_equal(np.asarray(pred_density.miller), np.asarray(sample.miller)):
        raise ValueError(f"{sample.id}: the prediction's G vectors are not the reference run's")
    rho = dataclasses.replace(pred_density, rho_g=np.asarray(sample.rho_g, dtype=np.complex128))
    return rho, converged_becsum(sample)


def error_share(rho: str) -> float | None:
    """The share of the prediction's error a ``refNN`` density keeps (NN / 100), or None
    for any other name."""
    digits = rho[3:]
    if rho.startswith("ref") and len(digits) == 2 and digits.isdigit():
        return int(digits) / 100.0
    return None


def between(ref, pred, share: float):
    """ref + ``share``·(pred − ref) on every G vector (the charge, G = 0, is the same in
    both); ``rhocat.qe.density`` records on the same G vectors."""
    import dataclasses

    return dataclasses.replace(ref, rho_g=ref.rho_g + share * (pred.rho_g - ref.rho_g))


def parse_extra(text: str) -> tuple[str, ...]:
    """``--extra``'s comma-separated starts, each DENSITY+OCCUPATIONS; ValueError otherwise."""
    out = []
    for name in (t.strip() for t in text.split(",") if t.strip()):
        rho, _, occ = name.partition("+")
        if (rho not in DENSITIES and error_share(rho) is None) or occ not in OCCUPATIONS:
            raise ValueError(
                f"{name!r}: a start is DENSITY+OCCUPATIONS with DENSITY in {DENSITIES} "
                f"or refNN and OCCUPATIONS in {OCCUPATIONS}"
            )
        out.append(name)
    return tuple(out)


def converged_becsum(sample):
    """The reference run's converged occupations of a dataset ``sample`` as a ``Becsum``,
    or None when it stores none (no PAW species)."""
    from rhocat.qe.paw import Becsum

    values = ((sample.meta or {}).get("paw") or {}).get("becsum")
    return None if values is None else Becsum(np.asarray(values, dtype=np.float64))


def swap_iterations(
    model, sample, family, work: Path, eps_list, threshold: str, startingwfc: str | None,
    ranks: int, done: dict | None = None, extra: tuple[str, ...] = (),
) -> dict:  # fmt: skip
    """{start: {str(ε): iterations or None}} for the runs not in ``done`` (kept as given).
    The predicted folder carries the model's own occupations whatever its card asks for;
    ``extra``: starts beyond :data:`STARTS` (see :func:`swapped_starts`)."""
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.scf import run_scf

    out = {k: dict(v) for k, v in (done or {}).items()}
    own = with_occupations(model, "model")
    atoms, params, pred_dir = predicted_start(own, sample, family, work / "pred")
    over = warm_overrides(threshold, startingwfc)
    pred = read_charge_density(pred_dir / "charge-density.dat")
    reference = None
    if any(n.startswith("ref") or n.endswith("+converged") for n in extra):
        reference = reference_start(sample, pred)
    folders = swapped_starts(pred_dir, atoms, family, eps_list, work, extra, reference, pred)
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
    extra = sorted({s for r in rows.values() for s in r} - set(STARTS))
    starts = [s for s in (*STARTS, *extra) if any(s in r for r in rows.values())]
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
    ap.add_argument("--extra", default="",
                    help="more starts, e.g. pred+converged,ref+atomic (see above)")  # fmt: skip
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    try:
        eps_list = [float(e) for e in args.eps.split(",") if e.strip()]
    except ValueError as exc:
        ap.error(f"--eps: {exc}")
    if not eps_list:
        ap.error("--eps: give at least one ε")
    try:
        extra = parse_extra(args.extra)
    except ValueError as exc:
        ap.error(f"--extra: {exc}")
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
                args.startingwfc, args.ranks, done=result["rows"].get(i), extra=extra,
            )  # fmt: skip
        result["summary"] = summarize(result["rows"])
        out_path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
