"""What makes a PAW warm start consistent? Density and on-site occupations, measured.

For each test structure with PAW species (Cr, Ga, Ge, As, I in ``debian-pbe``), a model's
predicted density is handed to pw.x with several choices of PAW occupations (becsum):

- ``model``: the occupation model's prediction, as is;
- ``shrunk``: atomic + s (model − atomic), s the ensemble's shrink factor (what
  ``rhocat predict`` writes for an ensemble);
- ``atomic``: pw.x's atomic occupations;

and, as controls, the ACS density with atomic occupations (pw.x's own start, the
baseline) and the ACS density with the model's occupations. Same pw.x parameters as the
ground-truth run, same process. Prints JSON: iterations per variant and structure.

    python benchmarks/paw_start.py MODEL --snapshot benchmarks/ablation_snapshot.json [--n 8]
        [--ids half-heusler-AgCrGa]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAW = {"Cr", "Ga", "Ge", "As", "I"}


def variants(model, sample, family, work: Path, ranks: int) -> dict:
    from rhocat.evaluate.runner import sample_atoms
    from rhocat.predict import predict_restart
    from rhocat.predict.core import model_becsum
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.paw import Becsum, write_paw_txt
    from rhocat.qe.save import copy_restart
    from rhocat.qe.scf import run_scf
    from rhocat.qe.start import acs_like

    params = sample.meta["parameters"]
    atoms = sample_atoms(sample)
    ecutrho = float(params["system"]["ecutrho"])
    pred = predict_restart(model, atoms, family=family, out_dir=work / "pred",
                           ecutrho_ry=ecutrho, name=sample.id)  # fmt: skip
    becsum_model, source = model_becsum(model, atoms, family)
    atomic = atomic_becsum(atoms, family)
    s = pred.shrink if pred.shrink is not None else 1.0
    choices = {"model": becsum_model, "atomic": atomic}
    if becsum_model is not None and source == "model":
        choices["shrunk"] = Becsum(atomic.values + s * (becsum_model.values - atomic.values))
    out = {"shrink": pred.shrink, "uncertainty": pred.uncertainty, "becsum_source": source}
    base = run_scf(atoms, family=family, start="atomic", parameters=params,
                   workdir=work / "acs", ranks=ranks)  # fmt: skip
    out["acs+atomic (pw.x)"] = base.iterations if base.converged else None
    density = read_charge_density(Path(pred.restart_dir) / "charge-density.dat")
    acs_dir = copy_restart(pred.restart_dir, work / "acs-start", acs_like(density, atoms, family))
    starts = {f"pred+{k}": (Path(pred.restart_dir), v) for k, v in choices.items() if v is not None}
    if becsum_model is not None:
        starts["acs+model"] = (acs_dir, becsum_model)
    for name, (folder, becsum) in starts.items():
        write_paw_txt(folder / "paw.txt", becsum)
        res = run_scf(atoms, family=family, start=folder, parameters=params,
                      workdir=work / name.replace("+", "-"), ranks=ranks)  # fmt: skip
        out[name] = res.iterations if res.converged else None
    return out


def main() -> int:
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data", default=str(HERE / "dataset" / "dataset"))
    ap.add_argument("--snapshot", default=str(HERE / "ablation_snapshot.json"))
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--ids", default="", help="comma-separated entry ids added to the sample")
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("-o", "--output", default=str(HERE / "results_paw_start.json"))
    args = ap.parse_args()
    ds = Dataset(args.data)
    snap = {k: v for k, v in json.loads(Path(args.snapshot).read_text()).items()
            if not k.startswith("_")}  # fmt: skip
    pool = sorted(i for s, ids in snap.items() if s.startswith("test") for i in ids
                  if set(ds.row(i).element_list) & PAW)  # fmt: skip
    ids = sorted(random.Random(0).sample(pool, min(args.n, len(pool))))
    ids += [i for i in args.ids.split(",") if i and i not in ids]
    model = load_model(args.model)
    family = load_family(ds.manifest.family)
    result = {"model": args.model, "rows": {}}
    for i in ids:
        with tempfile.TemporaryDirectory(prefix="rhocat-paw-") as tmp:
            result["rows"][i] = variants(model, ds.load(i), family, Path(tmp), args.ranks)
        print(i, json.dumps(result["rows"][i]), file=sys.stderr, flush=True)
        Path(args.output).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
