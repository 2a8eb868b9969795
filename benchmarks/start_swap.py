"""Is it the density or the PAW occupations? Two models' warm starts, parts swapped.

For each structure both models predict a restart (``predict_restart``: density and, for PAW
species, occupations in ``paw.txt``); pw.x then runs from all four combinations, model A's
or model B's density with A's or B's occupations, at one first diagonalization threshold
(so that only the start differs). Prints JSON: iterations per combination and structure.

    python benchmarks/start_swap.py --model A=src/rhocat/pretrained/default.pt \
        --model B=benchmarks/checkpoints/iodides-8000.pt --ids L12-GaFe3 \
        [--threshold 0.01] [-o benchmarks/results_start_swap.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from first_threshold import predicted_start  # noqa: E402


def combined_start(density_dir: Path, occupation_dir: Path, folder: Path) -> Path:
    """A restart folder with ``density_dir``'s ``charge-density.dat`` (and the rest of its
    files) and ``occupation_dir``'s ``paw.txt`` (when it has one)."""
    shutil.copytree(density_dir, folder)
    if (occupation_dir / "paw.txt").is_file():
        shutil.copy(occupation_dir / "paw.txt", folder / "paw.txt")
    return folder


def swapped_iterations(models: dict, sample, family, work: Path, threshold: float, ranks: int):
    """{"ACS": n, "rho=A occ=B": n, ...} for every pair of the models' densities and
    occupations."""
    from rhocat.qe.scf import run_scf

    dirs = {}
    for name, model in models.items():
        atoms, params, dirs[name] = predicted_start(model, sample, family, work / f"pred-{name}")
    over = {"electrons": {"diago_thr_init": threshold}}
    out = {"ACS": int(sample.meta["iterations"])}
    for rho in dirs:
        for occ in dirs:
            start = combined_start(dirs[rho], dirs[occ], work / f"start-{rho}-{occ}")
            res = run_scf(atoms, family=family, start=start, parameters=params, overrides=over,
                          workdir=work / f"run-{rho}-{occ}", ranks=ranks)  # fmt: skip
            key = f"rho={rho} occ={occ}"
            out[key] = res.iterations if res.converged else None
            print(sample.id, key, out[key], "acs", out["ACS"], file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", action="append", required=True, help="NAME=CHECKPOINT (two)")
    ap.add_argument("--ids", required=True, help="comma-separated dataset entry ids")
    ap.add_argument("--threshold", type=float, default=0.01, help="diago_thr_init, all runs")
    ap.add_argument("--data", default=str(HERE / "dataset" / "dataset"))
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("-o", "--output", default=str(HERE / "results_start_swap.json"))
    args = ap.parse_args(argv)
    paths = dict(spec.split("=", 1) for spec in args.model)
    if len(paths) != 2:
        ap.error("give two --model NAME=CHECKPOINT")
    ds = Dataset(args.data)
    models = {name: load_model(path) for name, path in paths.items()}
    family = load_family(ds.manifest.family)
    out_path = Path(args.output)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {"rows": {}}
    result.update(models=paths, threshold=args.threshold)
    for i in args.ids.split(","):
        if i in result["rows"]:
            continue
        with tempfile.TemporaryDirectory(prefix="rhocat-swap-") as tmp:
            result["rows"][i] = swapped_iterations(
                models, ds.load(i), family, Path(tmp), args.threshold, args.ranks
            )
        out_path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
