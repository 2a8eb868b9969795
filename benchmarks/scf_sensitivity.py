"""How much does a cell's SCF iteration count move under an immaterial change of the start?

A warm start that needs a few more iterations than the ACS is a model failure only if the
iteration count is a stable function of the start. For each structure pw.x runs from

- the ACS scaled by (1 + ε) on every G ≠ 0 (charge unchanged; ε = ±1e-3, ±3e-3: a
  change far below any model's error), and
- ACS + s·Δρ_pred for several s (s = 1: rhocat's warm start; s = 0: the ACS),

all with pw.x's atomic PAW occupations (the density alone varies), the ground-truth run's
parameters and the same first diagonalization threshold as pw.x's atomic start, so that
s = 0 replays the ACS run exactly. Prints JSON: iterations per start and structure.
``--eps`` and ``--scales`` choose the starts (``--scales ''``: the perturbed ACS only, the
null model of a comparison with the ACS); ``--skip-atomic`` leaves out pw.x's own atomic
run where its count is known from elsewhere (the dataset, a benchmark's results).
``--startingwfc atomic`` adds pw.x's atomic start with ``startingwfc = 'atomic'`` (row
'pw.x atomic, startingwfc=atomic'): QE's default 'atomic+random' also adds random noise to
the PAW occupations (``PAW_atomic_becsum``), 'atomic' does not.

    python benchmarks/scf_sensitivity.py MODEL --ids half-heusler-AgCrGa,L10-CuAg \
        [--eps -0.003,-0.001,0.001,0.003] [--scales 0,0.25,0.5,0.75,1] \
        [-o benchmarks/results_scf_sensitivity.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
EPSILONS = (-3e-3, -1e-3, 1e-3, 3e-3)
SCALES = (0.0, 0.25, 0.5, 0.75, 1.0)


def start_names(epsilons=EPSILONS, scales=SCALES) -> list[str]:
    """The starts' names, in run order: 'acs*(1+ε)' per ε, then 'acs+s*pred' per s."""
    return [f"acs*(1{e:+g})" for e in epsilons] + [f"acs+{s:g}*pred" for s in scales]


def parse_floats(text: str) -> tuple[float, ...]:
    """'-0.001,0.001' -> (-0.001, 0.001); '' -> ()."""
    return tuple(float(x) for x in text.split(",") if x.strip())


def _starts(model, sample, family, work: Path, epsilons=EPSILONS, scales=SCALES) -> dict:
    """Restart folders (name -> Path): 'acs*(1+eps)' per ε and 'acs+s*pred' per s."""
    from rhocat.evaluate.runner import sample_atoms
    from rhocat.predict import predict_restart
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.save import copy_restart
    from rhocat.qe.start import acs_like

    atoms = sample_atoms(sample)
    ecutrho = float(sample.meta["parameters"]["system"]["ecutrho"])
    pred = predict_restart(model, atoms, family=family, out_dir=work / "pred",
                           ecutrho_ry=ecutrho, name=sample.id)  # fmt: skip
    density = read_charge_density(Path(pred.restart_dir) / "charge-density.dat")
    acs = acs_like(density, atoms, family).rho_g[0]
    delta = density.rho_g[0] - acs
    g0 = np.all(np.asarray(density.miller) == 0, axis=1)
    values = [np.where(g0, acs, acs * (1.0 + e)) for e in epsilons]
    values += [acs + s * delta for s in scales]
    rho = dict(zip(start_names(epsilons, scales), values, strict=True))
    becsum = atomic_becsum(atoms, family)  # None without PAW species
    folders = {}
    for name, values in rho.items():
        start = type(density)(miller=density.miller, rho_g=values[None], b=density.b)
        folders[name] = copy_restart(
            pred.restart_dir, work / f"start-{len(folders)}", start, becsum
        )
    return folders


def sensitivity(
    model, sample, family, work: Path, ranks: int, epsilons=EPSILONS, scales=SCALES,
    atomic: bool = True, startingwfc: str | None = None,
) -> dict:  # fmt: skip
    """Iterations per start (None: not converged), 'pw.x atomic' first (unless not
    ``atomic``), then pw.x's atomic start with ``startingwfc`` (when given)."""
    from rhocat.evaluate.runner import sample_atoms
    from rhocat.qe.scf import ATOMIC_DIAGO_THR_INIT, run_scf

    atoms = sample_atoms(sample)
    params = sample.meta["parameters"]
    same = {"electrons": {"diago_thr_init": ATOMIC_DIAGO_THR_INIT}}
    out = {}
    if atomic:
        base = run_scf(atoms, family=family, start="atomic", parameters=params,
                       workdir=work / "atomic", ranks=ranks)  # fmt: skip
        out["pw.x atomic"] = base.iterations if base.converged else None
    if startingwfc is not None:
        res = run_scf(atoms, family=family, start="atomic", parameters=params,
                      overrides={"electrons": {"startingwfc": startingwfc}},
                      workdir=work / "atomic-wfc", ranks=ranks)  # fmt: skip
        out[f"pw.x atomic, startingwfc={startingwfc}"] = res.iterations if res.converged else None
    if not (epsilons or scales):
        return out
    for name, folder in _starts(model, sample, family, work, epsilons, scales).items():
        res = run_scf(atoms, family=family, start=folder, parameters=params, overrides=same,
                      workdir=work / f"run-{folder.name}", ranks=ranks)  # fmt: skip
        out[name] = res.iterations if res.converged else None
        print(sample.id, name, out[name], file=sys.stderr, flush=True)
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
    ap.add_argument("--data", default=str(HERE / "dataset" / "dataset"))
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--eps", default=",".join(f"{e:g}" for e in EPSILONS),
                    help="comma-separated ε of the scaled ACS starts (not 0)")  # fmt: skip
    ap.add_argument("--scales", default=",".join(f"{s:g}" for s in SCALES),
                    help="comma-separated s of the ACS + s·Δρ starts ('' for none)")  # fmt: skip
    ap.add_argument("--skip-atomic", action="store_true", help="no 'pw.x atomic' run")
    ap.add_argument("--startingwfc", choices=STARTINGWFC_VALUES,
                    help="also run pw.x's atomic start with this startingwfc")  # fmt: skip
    ap.add_argument("-o", "--output", default=str(HERE / "results_scf_sensitivity.json"))
    args = ap.parse_args(argv)
    try:
        epsilons, scales = parse_floats(args.eps), parse_floats(args.scales)
    except ValueError as exc:
        ap.error(f"--eps/--scales: {exc}")
    if 0.0 in epsilons:
        ap.error("--eps 0 is the ACS itself: the 'pw.x atomic' run (or --scales 0)")
    ds = Dataset(args.data)
    model = load_model(args.model)
    family = load_family(ds.manifest.family)
    out_path = Path(args.output)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {"rows": {}}
    result["model"] = args.model
    for i in args.ids.split(","):
        if i in result["rows"]:
            continue
        with tempfile.TemporaryDirectory(prefix="rhocat-sens-") as tmp:
            result["rows"][i] = sensitivity(
                model, ds.load(i), family, Path(tmp), args.ranks, epsilons, scales,
                atomic=not args.skip_atomic, startingwfc=args.startingwfc,
            )  # fmt: skip
        out_path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
