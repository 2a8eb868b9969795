"""How close are CHGNet's relaxed lattices to a DFT vc-relax with the dataset's family?

For a sample of the benchmark's relaxed cells (``benchmarks/dataset/relaxed``), pw.x
``vc-relax`` (``fast`` protocol, the family's converged cutoffs, 1 rank) starts from the
CHGNet cell; reported: the volume and lattice-length change DFT makes (%), and wall time.

    python benchmarks/relax_check.py [--ids a,b,...] [-o benchmarks/results_relax_check.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_IDS = "zincblende-BN,CsCl-FeSi,fcc-Cu,L12-AsNi3,zincblende-GaN,CsCl-AgGe"


def check(atoms, workdir: Path) -> dict:
    from rhocat.qe.scf import run_scf

    t0 = time.perf_counter()
    res = run_scf(atoms, calculation="vc-relax", ranks=1, workdir=workdir, timeout_s=1800)
    if not res.converged or res.final_atoms is None:
        return {"error": res.reason, "wall_s": time.perf_counter() - t0}
    final = res.final_atoms
    return {
        "volume_change_pct": 100.0 * (final.get_volume() / atoms.get_volume() - 1.0),
        "length_change_pct": (100.0 * (final.cell.lengths() / atoms.cell.lengths() - 1)).tolist(),
        "max_abs_length_change_pct": float(
            100.0 * np.abs(final.cell.lengths() / atoms.cell.lengths() - 1).max()
        ),
        "wall_s": time.perf_counter() - t0,
    }


def main() -> int:
    from ase.io import read

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", default=DEFAULT_IDS)
    ap.add_argument("--relaxed", default=str(HERE / "dataset" / "relaxed"))
    ap.add_argument("-o", "--output", default=str(HERE / "results_relax_check.json"))
    args = ap.parse_args()
    out: dict = {"rows": {}}
    for ident in args.ids.split(","):
        path = Path(args.relaxed) / f"{ident}.extxyz"
        if not path.is_file():
            print(f"skip {ident}: no relaxed cell", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory(prefix="rhocat-relax-") as tmp:
            out["rows"][ident] = check(read(path), Path(tmp))
        print(ident, json.dumps(out["rows"][ident]), file=sys.stderr, flush=True)
        Path(args.output).write_text(json.dumps(out, indent=1))
    vols = [abs(r["volume_change_pct"]) for r in out["rows"].values() if "volume_change_pct" in r]
    out["mean_abs_volume_change_pct"] = float(np.mean(vols)) if vols else None
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
