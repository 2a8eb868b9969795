"""A warm start's iteration count, repeated under immaterial changes of the start.

On cells whose SCF is chaotic in the start (docs/scf-starts.md §3: Cr and Fe compounds),
one run per cell decides a comparison of two models by noise. Here rhocat's warm start
(``predict_restart``: density and, for PAW species, the predicted occupations) is scaled by
(1 + ε) on every G ≠ 0 (the charge, G = 0, unchanged; ε = ±1e-3 is far below any model's
error) and run at the first diagonalization threshold given. ε = 0 is the run
``first_threshold.py`` made; ``compare_val_scf.py --repeats`` averages the two. Prints
JSON: iterations per ε and structure. Resumable: a structure's ε already in the output
file are not run again.

    python benchmarks/scf_repeats.py MODEL --threshold 0.01 --ids L10-CrCu,zincblende-CrC \
        [--eps -0.001,0.001] -o benchmarks/results_scf_repeats.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from first_threshold import (  # noqa: E402
    add_occupations_argument,
    predicted_start,
    refuse_other_settings,
    warm_overrides,
    with_occupations,
)


def scaled_density(density, eps: float):
    """``density`` (a ``rhocat.qe.density`` record, ρ(G) in e per cell) with every G ≠ 0
    component multiplied by 1 + ``eps``; G = 0 (the number of electrons) is kept."""
    g0 = np.all(np.asarray(density.miller) == 0, axis=1)
    rho_g = np.where(g0[None, :], density.rho_g, density.rho_g * (1.0 + eps))
    return dataclasses.replace(density, rho_g=rho_g)


def repeated_iterations(
    model, sample, family, work: Path, threshold: str, eps_list, ranks: int, done: dict,
    startingwfc: str | None = None,
) -> dict:  # fmt: skip
    """Iterations from the prediction scaled by 1 + ε, per ε not in ``done`` (str(ε) keys);
    ``startingwfc``: pw.x's, when not its default."""
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.save import copy_restart
    from rhocat.qe.scf import run_scf

    out = {"acs": int(sample.meta["iterations"]), **done}
    todo = [e for e in eps_list if str(e) not in done]
    if not todo:
        return out
    atoms, params, start = predicted_start(model, sample, family, work / "pred")
    density = read_charge_density(start / "charge-density.dat")
    over = warm_overrides(threshold, startingwfc)
    for eps in todo:
        folder = copy_restart(start, work / f"start{eps:+g}", scaled_density(density, eps))
        res = run_scf(atoms, family=family, start=folder, parameters=params, overrides=over,
                      workdir=work / f"run{eps:+g}", ranks=ranks)  # fmt: skip
        out[str(eps)] = res.iterations if res.converged else None
        print(sample.id, eps, out[str(eps)], "acs", out["acs"], file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.scf import STARTINGWFC_VALUES
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model")
    ap.add_argument("--ids", required=True, help="comma-separated dataset entry ids")
    ap.add_argument("--threshold", required=True, help="'file' (pw.x's 1e-5) or a number")
    ap.add_argument("--eps", default="-0.001,0.001", help="comma-separated ε (not 0)")
    ap.add_argument("--data", default=str(HERE / "dataset" / "dataset"))
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--startingwfc", choices=STARTINGWFC_VALUES,
                    help="pw.x's startingwfc of the warm starts (default: the card's)")  # fmt: skip
    add_occupations_argument(ap)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    eps_list = [float(e) for e in args.eps.split(",")]
    if 0.0 in eps_list:
        ap.error("ε = 0 is the first_threshold.py run; give only the changed starts")
    out_path = Path(args.output)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {"rows": {}}
    if result.get("threshold", args.threshold) != args.threshold:
        ap.error(f"{out_path} holds runs at threshold {result['threshold']}")
    settings = {"startingwfc": args.startingwfc, "occupations": args.occupations}
    refuse_other_settings(ap, result, settings, out_path)
    result.update(model=args.model, threshold=args.threshold, startingwfc=args.startingwfc)
    if args.occupations:
        result["occupations"] = args.occupations
    ds = Dataset(args.data)
    model = with_occupations(load_model(args.model), args.occupations)
    family = load_family(ds.manifest.family)
    for i in args.ids.split(","):
        done = {k: v for k, v in result["rows"].get(i, {}).items() if k != "acs"}
        with tempfile.TemporaryDirectory(prefix="rhocat-rep-") as tmp:
            row = repeated_iterations(
                model, ds.load(i), family, Path(tmp), args.threshold, eps_list, args.ranks, done,
                startingwfc=args.startingwfc,
            )  # fmt: skip
        result["rows"][i] = row
        out_path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
