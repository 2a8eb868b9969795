"""Benchmark of the dataset pipeline (prints JSON).

Builds a dataset for real (``rhocat.data.build_dataset``, local engine) from
the generated candidates of a small element set at the chosen protocol, then
re-runs pw.x bare on exactly the inputs the pipeline wrote, one after the
other, and reports:

- ``structures_per_hour``: structures stored (ok or failed) per hour of
  pipeline wall time, with the given workers and MPI ranks;
- ``overhead_percent_vs_bare``: pipeline wall time over the sum of the bare
  pw.x times, minus 1 (target ≤ 5%), and the median of the per-structure
  ratios (robust to the load of other processes);
- ``overhead_percent_vs_inner_pw``: pipeline wall time over the sum of the
  pw.x process times measured inside the pipeline, minus 1: rhocat's own cost
  (worker start-up, inputs, parsing, density read, ACS, HDF5 write, checksum,
  index) without pw.x noise.

By default one batch is timed (one ``build_dataset`` call, as ``rhocat dft
run`` does); with ``--workers 1`` the bare re-runs follow the batch. With
``--paired`` each structure goes through its own ``build_dataset`` call (pool
start-up, dataset open, reconcile and index every time: an upper bound of the
overhead) and its bare pw.x re-run follows at once, so that each pair is timed
under the same load of a shared machine.

Usage: ``python benchmarks/dft_pipeline.py [--elements Si,C,Ge] [--n 8]
[--workers 1] [--ranks 2] [--protocol fast] [--ecutwfc RY]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from rhocat.data.build import BuildConfig, Job, build_dataset
from rhocat.data.engines import LocalEngine
from rhocat.data.manifest import Manifest
from rhocat.data.store import Dataset
from rhocat.qe.runner import time_bare_pw
from rhocat.structures import generate_candidates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--elements", default="Si,C,Ge")
    ap.add_argument("--n", type=int, default=8, help="structures (smallest cells first)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--protocol", default="fast")
    ap.add_argument("--ecutwfc", type=float, default=None, help="override (Ry); ecutrho 8x")
    ap.add_argument("--perturb", type=float, default=0.02, help="Å")
    ap.add_argument(
        "--paired", action="store_true", help="one build call per structure, bare re-run after each"
    )
    args = ap.parse_args()

    gen = generate_candidates(args.elements.split(","))
    candidates = gen.candidates if hasattr(gen, "candidates") else gen
    candidates = sorted(candidates, key=lambda c: (len(c.atoms), c.id))[: args.n]
    jobs = [Job(c.id, "bench", c.atoms) for c in candidates]
    overrides = {}
    if args.ecutwfc:
        overrides = {"ecutwfc": args.ecutwfc, "ecutrho": 8 * args.ecutwfc}
    manifest = Manifest(protocol=args.protocol, perturb_ang=args.perturb, overrides=overrides)

    config = BuildConfig(manifest, ranks=args.ranks, keep_work=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "data"
        pipe, bare, reports = [], [], []
        if args.paired:
            # one structure per build call, its bare pw.x re-run right after it: paired
            # timings taken seconds apart, robust to the load of a shared machine
            for job in jobs:
                t0 = time.perf_counter()
                reports.append(build_dataset([job], out, config, progress=False))
                pipe.append(time.perf_counter() - t0)
                (scf,) = (out / "work").glob(f"{job.id}-*/scf")
                bare.append(time_bare_pw(scf, args.ranks, check=False))
        else:
            t0 = time.perf_counter()
            reports.append(
                build_dataset(jobs, out, config, engine=LocalEngine(args.workers), progress=False)
            )
            pipe.append(time.perf_counter() - t0)
            if args.workers == 1:
                bare_total = sum(
                    time_bare_pw(w, args.ranks, check=False) for w in (out / "work").glob("*/scf")
                )
                bare.append(bare_total)
        with Dataset(out) as ds:
            rows = ds.rows()
            metas = {r.id: ds.record(r.id).meta for r in rows}
    inner = [
        (m.get("timings", {}).get("scf_s") or 0.0) + m.get("timings", {}).get("relax_s", 0.0)
        for m in metas.values()
    ]
    wall = sum(pipe)
    result = {
        "elements": args.elements.split(","),
        "structures": [j.id for j in jobs],
        "protocol": args.protocol,
        "overrides": overrides,
        "workers": args.workers,
        "ranks": args.ranks,
        "ok": sum(r.done for r in reports),
        "failed": sum(r.failed for r in reports),
        "failures": {k: v for r in reports for k, v in r.failures.items()},
        "pipeline_wall_s": wall,
        "structures_per_hour": 3600 * len(jobs) / wall,
        "sum_inner_pw_s": sum(inner),
        "sum_acs_s": sum(m.get("timings", {}).get("acs_s", 0.0) for m in metas.values()),
        "median_scf_iterations": statistics.median(
            [r.n_iterations for r in rows if r.n_iterations] or [0]
        ),
        "overhead_percent_vs_inner_pw": 100 * (wall / sum(inner) - 1) if sum(inner) else None,
        "target_overhead_percent": 5.0,
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
    }
    if bare:
        result.update(
            sum_bare_pw_s=sum(bare), overhead_percent_vs_bare=100 * (wall / sum(bare) - 1)
        )
    if args.paired:
        ratios = [p / b for p, b in zip(pipe, bare, strict=True)]
        result.update(
            overhead_percent_vs_bare_median_pair=100 * (statistics.median(ratios) - 1),
            per_structure_s=[
                {"id": j.id, "pipeline": p, "bare_pw": b}
                for j, p, b in zip(jobs, pipe, bare, strict=True)
            ],
        )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
