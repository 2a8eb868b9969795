"""Does a density correction computed at the dataset's cutoff serve runs at the family's cutoffs?

For each structure: a converged SCF at the dataset cutoff (ecutwfc 25 Ry, ecutrho 200 Ry)
gives Δρ_low = ρ − ρ_ACS; a converged SCF at the family's converged cutoffs (the ones
``rhocat scf`` uses by default) gives Δρ_high and the ACS iteration count. Then pw.x at
the high cutoff is restarted from ρ_ACS,high + Δρ_low (Δρ_low on its G sphere, 0 beyond;
PAW occupations of the low-cutoff run): the *oracle* of a model trained at the low
cutoff. Reported: the Hartree share of Δρ_high that Δρ_low captures, and iterations
ACS → oracle (→ 1 for the exact high-cutoff density). Same machine, same run, 1 rank.

    python benchmarks/cutoff_transfer.py [--ids a,b,...] [-o results_cutoff_transfer.json]
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
LOW = {"system": {"ecutwfc": 25.0, "ecutrho": 200.0}}
DEFAULT_IDS = (
    "CsCl-FeSi,AlB2-CrB2,zincblende-BN,rocksalt-CrN,delafossite-CuRhO2,CsCl-GaNi,CsCl-CrGe"
)


def transfer(atoms, workdir: Path) -> dict:
    from rhocat.qe.acs import acs_rho_g
    from rhocat.qe.density import ChargeDensity, read_charge_density
    from rhocat.qe.gvectors import g_cartesian
    from rhocat.qe.paw import read_paw_txt
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.save import write_restart
    from rhocat.qe.scf import run_scf
    from rhocat.qe.start import cell_bohr as qe_cell_bohr
    from rhocat.qe.start import reciprocal_b
    from rhocat.train.metrics import hartree_energy_ry

    fam = load_family("debian-pbe")
    low = run_scf(atoms, overrides=LOW, ranks=1, workdir=workdir / "low")
    high = run_scf(atoms, ranks=1, workdir=workdir / "high")
    if not (low.converged and high.converged):
        return {"error": f"low {low.reason} / high {high.reason}"}
    d_low = read_charge_density(Path(low.save_dir) / "charge-density.dat")
    d_high = read_charge_density(Path(high.save_dir) / "charge-density.dat")
    delta_low = d_low.rho_g[0] - acs_rho_g(atoms, fam, d_low.miller)
    acs_high = acs_rho_g(atoms, fam, d_high.miller)
    delta_high = d_high.rho_g[0] - acs_high
    index = {tuple(m): k for k, m in enumerate(d_high.miller)}
    padded = np.zeros_like(delta_high)
    for k, m in enumerate(d_low.miller):
        padded[index[tuple(m)]] = delta_low[k]
    cell_bohr = qe_cell_bohr(atoms)
    g = g_cartesian(cell_bohr, d_high.miller)
    vol = abs(np.linalg.det(cell_bohr))
    e0 = hartree_energy_ry(delta_high, g, vol)
    captured = 100.0 * (1.0 - hartree_energy_ry(padded - delta_high, g, vol) / e0)
    paw = Path(low.save_dir) / "paw.txt"
    becsum = read_paw_txt(paw, nat=len(atoms)) if paw.is_file() else None
    start = workdir / "oracle.save"
    rho_start = (acs_high + padded)[None]
    dens = ChargeDensity(miller=d_high.miller, rho_g=rho_start, b=reciprocal_b(atoms))
    write_restart(start, dens, becsum)
    oracle = run_scf(atoms, ranks=1, workdir=workdir / "oracle", start=start,
                     parameters=high.parameters)  # fmt: skip
    return {
        "ecutwfc_high_ry": high.parameters["system"]["ecutwfc"],
        "ecutrho_high_ry": high.parameters["system"]["ecutrho"],
        "ngm_low": int(len(d_low.miller)),
        "ngm_high": int(len(d_high.miller)),
        "captured_pct_of_high": float(captured),
        "iterations_acs_high": high.iterations,
        "iterations_oracle_low": oracle.iterations if oracle.converged else None,
        "energy_diff_ry": (oracle.energy_ry - high.energy_ry) if oracle.converged else None,
        "scf_s_low": low.wall_s,
        "scf_s_high": high.wall_s,
        "paw": becsum is not None,
    }


def main(argv: list[str] | None = None) -> int:
    from ase.io import read

    from rhocat.data.perturb import perturb

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", default=DEFAULT_IDS)
    ap.add_argument("--relaxed", default=str(HERE / "dataset" / "relaxed"))
    ap.add_argument("-o", "--output", default=str(HERE / "results_cutoff_transfer.json"))
    args = ap.parse_args(argv)
    out = {"low": LOW, "rows": {}}
    for ident in args.ids.split(","):
        path = Path(args.relaxed) / f"{ident}.extxyz"
        if not path.is_file():
            print(f"skip {ident}: no relaxed structure", file=sys.stderr)
            continue
        atoms = read(path)
        # perturbed as the dataset's structures are (σ 0.02 Å, strain ≤ 2%, seed 0): a cell
        # symmetric to only ~1e-7 Å (as CHGNet leaves it) has |G|² ties that pw.x's fuzzy sort
        # orders in a way rhocat does not reproduce (see the README, known limitations)
        atoms, _ = perturb(atoms, ident, sigma_ang=0.02, strain=0.02, seed=0)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="rhocat-cutoff-") as tmp:
            row = transfer(atoms, Path(tmp))
        row["wall_s"] = time.perf_counter() - t0
        out["rows"][ident] = row
        print(ident, json.dumps(row), file=sys.stderr, flush=True)
        Path(args.output).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
