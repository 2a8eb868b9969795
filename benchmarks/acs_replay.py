"""Is rhocat's ACS start the start pw.x makes itself?

pw.x's ``startingpot='atomic'`` builds the superposition of atomic densities and, for PAW
species, the atomic on-site occupations (``PAW_atomic_becsum``). rhocat writes the same two
things to a restart folder when it starts from the ACS (``rhocat.qe.acs``). Here pw.x is run
from its atomic start with ``electron_maxstep = 0``, so that the ``.save`` it leaves holds
its own starting density and occupations, and both are compared with rhocat's:

- density: relative L2 difference over the G list (``|ρ_pw − ρ_acs| / |ρ_acs|``; e/bohr³
  in both) and the charges (electrons per cell, before pw.x's renormalisation);
- PAW occupations: the largest difference where rhocat's atomic occupations are not 0
  (the diagonal, the atomic ones) and where they are 0 (pw.x adds random noise there).

Prints JSON, one row per structure.

    python benchmarks/acs_replay.py --ids AlB2-CrB2,L10-CuAg \
        [-o benchmarks/results_acs_replay.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from first_threshold import add_cell_arguments  # noqa: E402


def pw_own_start(atoms, family, parameters: dict | None, workdir: Path, overrides=None, ranks=1):
    """pw.x's starting density and PAW occupations: (ChargeDensity, Becsum or None)."""
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.inputs import apply_overrides
    from rhocat.qe.paw import read_paw_txt
    from rhocat.qe.scf import run_scf, save_dir_of

    stop = {"electrons": {"electron_maxstep": 0, "scf_must_converge": False}}
    merged = apply_overrides(apply_overrides({}, overrides or {}), stop)
    run_scf(atoms, family=family, start="atomic", parameters=parameters, overrides=merged,
            workdir=workdir, ranks=ranks)  # fmt: skip
    save = save_dir_of(workdir)
    density = read_charge_density(save / "charge-density.dat")
    paw = save / "paw.txt"
    becsum = read_paw_txt(paw, nat=len(atoms), nspin=density.nspin) if paw.is_file() else None
    return density, becsum


def compare_with_acs(atoms, family, density, becsum) -> dict:
    """rhocat's ACS and atomic occupations against pw.x's own start (see module doc)."""
    from rhocat.qe.acs import acs_rho_g, atomic_becsum

    acs = np.asarray(acs_rho_g(atoms, family, density.miller), dtype=np.complex128)
    pw = np.asarray(density.rho_g[0], dtype=np.complex128)
    g0 = np.all(np.asarray(density.miller) == 0, axis=1)
    row = {
        "density_relative_l2": float(np.linalg.norm(pw - acs) / np.linalg.norm(acs)),
        "charge_pw": float(density.n_electrons()),
        "charge_acs_g0_over_pw_g0": float((acs[g0] / pw[g0]).real[0]),
        "paw": becsum is not None,
    }
    ours = atomic_becsum(atoms, family)
    if becsum is not None and ours is not None:
        a, b = becsum.values.ravel(), ours.values.ravel()
        atomic = b != 0
        row["becsum_max_diff_on_atomic_entries"] = float(np.abs(a - b)[atomic].max())
        row["becsum_max_diff_elsewhere"] = float(np.abs(a - b)[~atomic].max(initial=0.0))
        row["becsum_entries_differing"] = int((np.abs(a - b) > 1e-10).sum())
        row["becsum_entries"] = int(a.size)
    return row


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.evaluate.runner import sample_atoms
    from rhocat.qe.pseudo import load_family

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_cell_arguments(ap, "comma-separated dataset entry ids")
    ap.add_argument("-o", "--output", default=str(HERE / "results_acs_replay.json"))
    args = ap.parse_args(argv)
    ds = Dataset(args.data)
    family = load_family(ds.manifest.family)
    rows = {}
    for cid in args.ids.split(","):
        sample = ds.load(cid)
        atoms = sample_atoms(sample)
        with tempfile.TemporaryDirectory(prefix="rhocat-replay-") as tmp:
            density, becsum = pw_own_start(
                atoms, family, sample.meta["parameters"], Path(tmp), ranks=args.ranks
            )
            rows[cid] = compare_with_acs(atoms, family, density, becsum)
        print(cid, json.dumps(rows[cid]), file=sys.stderr, flush=True)
    out = {"rows": rows}
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
