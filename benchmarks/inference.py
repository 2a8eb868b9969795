"""Cost of a warm-start prediction, part by part, against one pw.x SCF iteration.

Prints JSON. For each structure (a) Si diamond (2 atoms, ecutwfc 25 Ry), (b) the
Cu2NiGe full Heusler (4 atoms, 25 Ry), (c) a 12-atom Si6Ge6 diamond supercell (40 Ry):

- every part of :func:`rhocat.predict.predict_restart` (G list, FFT grid, ACS,
  model graph / coefficients / basis evaluation, PAW occupations, charge fix and
  negative-density floor, files), median over ``--repeat`` runs of wall time and of
  process CPU time (``time.process_time``: all threads of this process), plus the
  whole ``predict_restart`` call;
- one SCF iteration: pw.x's own wall time / iterations of a ``startingpot='atomic'``
  run with ``--ranks`` MPI ranks (median over ``--scf-repeat`` runs);
- the ratios inference / iteration and whole prediction / iteration;
- start-up: ``python -c 'import rhocat.predict'`` and ``import rhocat.models`` (s).

    python benchmarks/inference.py [--checkpoint model.pt | --dataset DIR]
                                   [--repeat 7] [--no-scf] [--threads 2]

The model is the given checkpoint (default: the shipped ``rhocat/pretrained/default.pt``),
or, with ``--dataset``, a small ``basis`` model trained for ``--steps`` steps on that
dataset (the timings do not depend on how well it is trained).
The machine may be shared: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BOHR_PER_ANGSTROM = 1.0 / 0.529177210903


def structures() -> dict:
    """name -> (atoms, ecutwfc Ry, ecutrho Ry)."""
    from ase.build import bulk

    from rhocat.structures.prototypes import build

    si = bulk("Si", "diamond", a=5.43)
    heusler = build("heusler", ("Cu", "Ni", "Ge"))
    sige = bulk("Si", "diamond", a=5.55).repeat((3, 2, 1))
    symbols = sige.get_chemical_symbols()
    for i in range(1, len(symbols), 2):
        symbols[i] = "Ge"
    sige.set_chemical_symbols(symbols)
    rng = np.random.default_rng(0)
    sige.positions += rng.normal(scale=0.03, size=sige.positions.shape)
    return {
        "a_Si2_25Ry": (si, 25.0, 200.0),
        "b_Cu2NiGe_25Ry": (heusler, 25.0, 200.0),
        "c_Si6Ge6_40Ry": (sige, 40.0, 320.0),
    }


def _timed(fn, *args, **kwargs):
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - w, time.process_time() - c


def _median_parts(runs: list[dict]) -> dict:
    keys = runs[0].keys()
    return {k: [statistics.median(r[k][0] for r in runs), statistics.median(r[k][1] for r in runs)]
            for k in keys}  # fmt: skip


def time_parts(model, atoms, ecutrho: float, family, workdir: Path) -> dict:
    """{part: (wall s, cpu s)} of one prediction, done step by step as predict_restart does."""
    import torch

    from rhocat.models.basis import evaluate_g
    from rhocat.predict.core import _arrays, constrain_density, model_becsum, model_delta_rho_g
    from rhocat.qe.acs import acs_rho_g
    from rhocat.qe.density import ChargeDensity
    from rhocat.qe.gvectors import fft_grid_shape, g_cartesian, miller_indices
    from rhocat.qe.save import write_restart
    from rhocat.qe.start import cell_bohr, reciprocal_b

    t = {}
    cell, t["cell"] = cell_bohr(atoms), (0.0, 0.0)
    miller, *t["miller_indices"] = _timed(miller_indices, cell, ecutrho)
    shape, *t["fft_grid_shape"] = _timed(fft_grid_shape, cell, ecutrho)
    rho_acs, *t["acs_rho_g"] = _timed(acs_rho_g, atoms, family, miller)
    delta, *t["model_total"] = _timed(model_delta_rho_g, model, atoms, miller, shape)
    # the model's own parts (same arrays as model_delta_rho_g uses)
    numbers, pos, cellm = _arrays(atoms)
    g = g_cartesian(cellm, miller)
    from rhocat.models.ensemble import EnsembleModel

    ensemble = isinstance(model, EnsembleModel)  # parts of an ensemble: all K encoders at once
    base = model.members[0] if ensemble else model
    graph, *t["model_graph"] = _timed(base.graph, pos, cellm)
    try:  # the inference path of the optimized model (older code: every G, caller's threads)
        from rhocat.models.basis import inversion_partners
        from rhocat.models.equivariant import _one_thread
    except ImportError:
        inversion_partners, _one_thread = None, contextlib.nullcontext
    with torch.inference_mode():
        num_t = torch.as_tensor(numbers)
        with _one_thread():
            if ensemble:
                stacked, *t["model_coefficients"] = _timed(
                    model.member_coefficients, num_t, pos, cellm
                )
                coeffs = stacked.mean(dim=0)
            else:
                coeffs, *t["model_coefficients"] = _timed(model.coefficients, num_t, graph)
        pos_t, g_t = torch.as_tensor(pos), torch.as_tensor(g)
        vol = float(abs(np.linalg.det(cellm)))
        kw, threads = {}, contextlib.nullcontext()
        if inversion_partners is not None:
            from rhocat.models.equivariant import SMALL_EVALUATION

            kw["partners"], *t["model_g_pairs"] = _timed(inversion_partners, g, cellm)
            if (len(g) + 1) // 2 * len(pos) * model.spec.size < SMALL_EVALUATION:
                threads = _one_thread()
        with threads:
            _, *t["model_evaluate_g"] = _timed(
                evaluate_g, model.spec, coeffs, pos_t, g_t, vol, **kw
            )
    (becsum, _), *t["becsum"] = _timed(model_becsum, model, atoms, family)
    n_el = float(sum(family[s].z_valence for s in atoms.get_chemical_symbols()))
    (rho_g, _), *t["constrain_density"] = _timed(
        constrain_density, rho_acs, delta, miller, cell, shape, n_el
    )
    density = ChargeDensity(miller=miller, rho_g=rho_g[None, :], b=reciprocal_b(atoms))
    out = workdir / "parts"
    out.mkdir(parents=True, exist_ok=True)
    _, *t["write_restart"] = _timed(write_restart, out, density, becsum)
    t["_ngm"] = (float(len(miller)), 0.0)
    return t


def one_iteration(atoms, ecutwfc, ecutrho, ranks: int, workdir: Path, repeat: int) -> dict:
    """pw.x seconds per SCF iteration (its own WALL / iterations), atomic start."""
    from rhocat.qe.scf import run_scf

    per_it, iters, walls = [], [], []
    for k in range(repeat):
        res = run_scf(
            atoms,
            overrides={"system": {"ecutwfc": ecutwfc, "ecutrho": ecutrho}},
            ranks=ranks,
            workdir=workdir / f"scf{k}",
            timeout_s=900,
        )
        wall = res.pw_wall_s or res.wall_s
        per_it.append(wall / max(res.iterations, 1))
        iters.append(res.iterations)
        walls.append(wall)
    return {
        "scf_iteration_s": statistics.median(per_it),
        "scf_iterations": iters,
        "scf_pw_wall_s": walls,
    }


def import_time(module: str, repeat: int = 3) -> float:
    """Median seconds of ``python -c 'import module'`` (a fresh interpreter each time)."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def get_model(args):
    if not args.dataset:
        from rhocat.pretrained import DEFAULT_CHECKPOINT
        from rhocat.train import load_model

        return load_model(args.checkpoint or DEFAULT_CHECKPOINT)
    from rhocat.data.store import Dataset
    from rhocat.train import train_model

    ds = Dataset(args.dataset)
    samples = [ds.load(i) for i in ds.ids()]
    return train_model(samples, "basis", "small", steps=args.steps, progress=False).model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--checkpoint", default=None, help="model file [the shipped model]")
    ap.add_argument("--dataset", default=None, help="train a small basis model on it instead")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--scf-repeat", type=int, default=1)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("RHOCAT_THREADS", "2")))
    ap.add_argument("--no-scf", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated structure names")
    args = ap.parse_args(argv)
    import torch

    from rhocat.predict import predict_restart
    from rhocat.qe.pseudo import load_family

    torch.set_num_threads(args.threads)
    model = get_model(args)
    model.check_elements = lambda *a, **k: None  # timings only: any element goes
    family = load_family("debian-pbe")
    report: dict = {
        "threads": args.threads,
        "model_config": {k: v for k, v in model.config.items() if k != "elements"},
        "import_s": {m: import_time(m) for m in ("rhocat.predict", "rhocat.models")},
        "structures": {},
    }
    work = Path(tempfile.mkdtemp(prefix="rhocat-bench-inference-"))
    import warnings

    for name, (atoms, ecutwfc, ecutrho) in structures().items():
        if args.only and name not in args.only.split(","):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            time_parts(model, atoms, ecutrho, family, work)  # warm-up (tables, caches)
            parts = _median_parts(
                [time_parts(model, atoms, ecutrho, family, work) for _ in range(args.repeat)]
            )
            whole = []
            for _ in range(args.repeat):
                w, c = time.perf_counter(), time.process_time()
                res = predict_restart(
                    model,
                    atoms,
                    family=family,
                    out_dir=work / name,
                    ecutrho_ry=ecutrho,
                    overwrite=True,  # the same folder each repeat
                )
                whole.append((time.perf_counter() - w, time.process_time() - c, res.inference_s))
        row = {
            "n_atoms": len(atoms),
            "ecutrho_ry": ecutrho,
            "ngm": int(parts.pop("_ngm")[0]),
            "parts_wall_cpu_s": parts,
            "predict_restart_wall_s": statistics.median(x[0] for x in whole),
            "predict_restart_cpu_s": statistics.median(x[1] for x in whole),
            "inference_s": statistics.median(x[2] for x in whole),
        }
        if not args.no_scf:
            row.update(
                one_iteration(atoms, ecutwfc, ecutrho, args.ranks, work / name, args.scf_repeat)
            )
            it = row["scf_iteration_s"]
            row["inference_over_iteration"] = row["inference_s"] / it
            row["predict_restart_over_iteration"] = row["predict_restart_wall_s"] / it
        report["structures"][name] = row
        print(name, json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
