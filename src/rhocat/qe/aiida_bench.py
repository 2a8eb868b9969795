"""Measure what AiiDA adds per pw.x calculation, compared with bare pw.x.

``python -m rhocat.qe.aiida_bench [-n 5] [-o out.json]`` builds a throwaway
AiiDA profile, then for ``n`` diamond-Si cells (2 atoms, lattice constants
5.40, 5.41, ... Å so that no work chain is reused) runs, interleaved:

- bare pw.x on rhocat's input (:func:`rhocat.qe.scf.run_scf`: the subprocess's
  wall time is the ``bare`` figure);
- the same SCF through :func:`rhocat.qe.aiida_run.run_many` in this process
  (``engine.run``: the ``in_process`` figure, one work chain at a time);

and finally all ``n`` (new lattice constants) submitted at once to a one-worker
daemon (``daemon_batch``: wall time of the whole batch / n). Medians are
reported with every sample, in seconds, plus pw.x's own WALL time of each run.
Cutoffs 20/160 Ry, protocol ``fast``, one MPI rank.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

LOW_CUTOFF = {"system": {"ecutwfc": 20.0, "ecutrho": 160.0}}


def measure(n: int = 5, workdir: str | os.PathLike | None = None) -> dict:
    """Run the comparison (see the module docstring) and return the figures as a dict."""
    from ase.build import bulk

    from rhocat.qe import aiida as ra
    from rhocat.qe.aiida_run import run_many
    from rhocat.qe.scf import run_scf

    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="rhocat-aiida-bench-") as tmp:
            return measure(n, tmp)
    root = Path(workdir)
    bare, bare_pw, inproc, inproc_pw, iterations = [], [], [], [], []
    with ra.temporary_profile(root / "profile"):
        # set-up cost, paid once per profile
        t0 = time.perf_counter()
        ra.ensure_code("pw.x", ra.ensure_computer("localhost"))
        ra.ensure_pseudo_family("debian-pbe")
        setup_s = time.perf_counter() - t0
        # warm-up: imports, parsers, XML schemas
        list(
            run_many(
                [("warm", bulk("Si", "diamond", a=5.39))],
                workdir=root / "w",
                overrides=LOW_CUTOFF,
                ranks=1,
            )
        )
        for i in range(n):
            atoms = bulk("Si", "diamond", a=5.40 + 0.01 * i)
            local = run_scf(atoms, workdir=root / f"bare{i}", overrides=LOW_CUTOFF, ranks=1)
            bare.append(local.wall_s)
            bare_pw.append(local.pw_wall_s)
            t = time.perf_counter()
            [(_, r)] = list(
                run_many([(f"si{i}", atoms)], workdir=root / "a", overrides=LOW_CUTOFF, ranks=1)
            )
            inproc.append(time.perf_counter() - t)
            inproc_pw.append(r.pw_wall_s)
            iterations.append((local.iterations, r.iterations))
        t = time.perf_counter()
        ra.start_daemon(workers=1)
        daemon_start_s = time.perf_counter() - t
        jobs = [(f"d{i}", bulk("Si", "diamond", a=5.60 + 0.01 * i)) for i in range(n)]
        t = time.perf_counter()
        batch = list(
            run_many(
                jobs, workdir=root / "d", overrides=LOW_CUTOFF, ranks=1, daemon=True, poll_s=0.2
            )
        )
        batch_s = time.perf_counter() - t
        ra.stop_daemon()
    ok = all(r.converged for _, r in batch)
    med_bare = statistics.median(bare)
    med_in = statistics.median(inproc)
    return {
        "machine": {"cpus": os.cpu_count(), "load_avg_1min": os.getloadavg()[0]},
        "n": n,
        "setup_s": setup_s,
        "bare_pw_s": bare,
        "bare_pw_internal_wall_s": bare_pw,
        "aiida_in_process_s": inproc,
        "aiida_in_process_pw_internal_wall_s": inproc_pw,
        "iterations_local_vs_aiida": iterations,
        "daemon_start_s": daemon_start_s,
        "daemon_batch_s": batch_s,
        "daemon_batch_all_converged": ok,
        "median_bare_s": med_bare,
        "median_aiida_in_process_s": med_in,
        "overhead_in_process_s": med_in - med_bare,
        "daemon_batch_per_calc_s": batch_s / n,
        "overhead_daemon_per_calc_s": batch_s / n - med_bare,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="calculations per mode [5]")
    parser.add_argument("-o", "--output", help="write the JSON here (default: stdout)")
    args = parser.parse_args(argv)
    result = json.dumps(measure(args.n), indent=2)
    if args.output:
        from rhocat.fileio import atomic_write_text

        atomic_write_text(args.output, result + "\n")
    else:
        sys.stdout.write(result + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
