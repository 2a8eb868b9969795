"""Run every benchmark script of this folder and collect their JSON into results.json.

Usage: ``python benchmarks/run_all.py [names...]`` (default: all ``*.py`` here that
print JSON). Each script is run in its own process; one that fails is recorded with
its error and the others go on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = {"run_all.py"}


def main(argv: list[str]) -> int:
    scripts = [HERE / f"{n.removesuffix('.py')}.py" for n in argv] or sorted(
        p for p in HERE.glob("*.py") if p.name not in SKIP and not p.name.startswith("_")
    )
    results: dict[str, object] = {}
    for script in scripts:
        t0 = time.perf_counter()
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
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
