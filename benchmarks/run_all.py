"""Run the benchmarks and collect their JSON into ``benchmarks/results.json``.

Usage: ``python benchmarks/run_all.py [names...]`` (default: :data:`DEFAULT`). Each
script runs in its own process; one that fails is recorded with its error and the
others go on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: What ``make bench`` runs, in order, with each script's arguments. The benchmark
#: against the paper needs its dataset first (``dataset_recipe``: hours of DFT here, resumable;
#: the repository holds what is done).
DEFAULT = [
    ("candidates_speed", []),
    ("qe_layer", []),
    ("qe_files", []),
    ("data_index", []),
    ("dft_pipeline", ["--n", "3", "--ecutwfc", "20"]),
    ("inference", ["--checkpoint", str(HERE.parent / "src/rhocat/pretrained/default.pt")]),
    ("dataset_recipe", []),
    ("paper", []),
]


def parse_jobs(argv: list[str]) -> list[tuple[str, list[str]]]:
    """The (script name, arguments) pairs to run: the named benchmarks with no arguments,
    or :data:`DEFAULT`. A name with no script here is a usage error (exit 2), before
    anything runs or ``results.json`` is written."""
    import argparse

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("names", nargs="*", help="benchmark scripts (default: make bench's list)")
    names = [n.removesuffix(".py") for n in ap.parse_args(argv).names]
    missing = [n for n in names if not (HERE / f"{n}.py").is_file()]
    if missing:
        ap.error(f"no benchmark named {', '.join(missing)} in {HERE}")
    return [(n, []) for n in names] or DEFAULT


def main(argv: list[str]) -> int:
    jobs = parse_jobs(argv)
    results: dict[str, object] = {}
    for name, extra in jobs:
        script = HERE / f"{name}.py"
        t0 = time.perf_counter()
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, str(script), *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        entry: dict[str, object] = {"wall_s": round(time.perf_counter() - t0, 1)}
        try:
            entry["result"] = json.loads(proc.stdout)
        except ValueError:
            entry["error"] = (proc.stderr or proc.stdout)[-2000:]
        if proc.returncode:
            entry["returncode"] = proc.returncode
        results[script.stem] = entry
    out = HERE / "results.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
