"""Benchmark of rhocat's QE file layer (prints one JSON object on stdout).

- ACS build for a 12-atom cell (rattled 3-species 12-atom supercell of diamond,
  US pseudopotentials from Debian, ecutrho 320 Ry): the G list
  (``miller_indices``) and the ACS (``acs_rho_g``), first call (reads the UPF
  files and builds the radial tables) and warm calls; wall and CPU time
  (the machine may be shared: CPU time is the steadier figure). Target ≤ 50 ms.
- ``charge-density.dat`` write + read for a density on a 60³ FFT grid, and the
  G -> grid -> G round trip on that grid.

Usage: ``python benchmarks/qe_files.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.build import bulk

from rhocat.qe.acs import acs_rho_g
from rhocat.qe.density import (
    ChargeDensity,
    from_grid,
    read_charge_density,
    to_grid,
    write_charge_density,
)
from rhocat.qe.gvectors import (
    QE_BOHR_ANGSTROM,
    fft_grid_shape,
    miller_indices,
    reciprocal_vectors,
)

PSEUDO = Path("/usr/share/espresso/pseudo")
FAMILY = {
    "Si": PSEUDO / "Si.pbe-nl-rrkjus_psl.1.0.0.UPF",
    "Ni": PSEUDO / "Ni.pbe-nd-rrkjus.UPF",
    "O": PSEUDO / "O.pbe-rrkjus.UPF",
}


def timed(fn, repeats: int) -> dict:
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "wall_ms_median": round(1e3 * statistics.median(wall), 2),
        "wall_ms_min": round(1e3 * min(wall), 2),
        "cpu_ms_median": round(1e3 * statistics.median(cpu), 2),
        "cpu_ms_min": round(1e3 * min(cpu), 2),
    }


def acs_benchmark(repeats: int, ecutrho: float = 320.0) -> dict:
    atoms = bulk("Si", "diamond", a=5.43).repeat((3, 2, 1))
    symbols = atoms.get_chemical_symbols()
    symbols[0:4] = ["Ni"] * 4
    symbols[4:8] = ["O"] * 4
    atoms.set_chemical_symbols(symbols)
    atoms.rattle(0.05, seed=1)
    cell = atoms.cell.array / QE_BOHR_ANGSTROM
    t0, c0 = time.perf_counter(), time.process_time()
    miller = miller_indices(cell, ecutrho)
    acs_rho_g(atoms, FAMILY, miller)
    first = {
        "wall_ms": round(1e3 * (time.perf_counter() - t0), 1),
        "cpu_ms": round(1e3 * (time.process_time() - c0), 1),
    }
    return {
        "cell": "12 atoms (Ni4 O4 Si4, rattled), US pseudopotentials",
        "ecutrho_ry": ecutrho,
        "ngm": int(len(miller)),
        "first_call_incl_upf_and_tables": first,
        "acs_rho_g": timed(lambda: acs_rho_g(atoms, FAMILY, miller), repeats),
        "miller_indices": timed(lambda: miller_indices(cell, ecutrho), repeats),
        "target_ms": 50,
    }


def density_benchmark(repeats: int) -> dict:
    # a cubic cell whose pw.x FFT grid is 60^3
    cell = np.diag([12.0, 12.0, 12.0])
    ecut = next(e for e in np.arange(100.0, 400.0, 1.0) if fft_grid_shape(cell, e) == (60, 60, 60))
    miller = miller_indices(cell, ecut)
    rng = np.random.default_rng(0)
    rho = rng.normal(size=(1, len(miller))) + 1j * rng.normal(size=(1, len(miller)))
    density = ChargeDensity(miller, rho, reciprocal_vectors(cell))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "charge-density.dat"

        def write_read() -> None:
            write_charge_density(path, density)
            read_charge_density(path)

        rw = timed(write_read, repeats)
        size = os.path.getsize(path)
    grid = to_grid(density, (60, 60, 60))
    return {
        "grid": [60, 60, 60],
        "ecutrho_ry": float(ecut),
        "ngm": int(len(miller)),
        "file_bytes": int(size),
        "write_plus_read": rw,
        "to_grid": timed(lambda: to_grid(density, (60, 60, 60)), repeats),
        "from_grid": timed(lambda: from_grid(grid, miller), repeats),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    out = {
        "acs_12_atoms": acs_benchmark(args.repeats),
        "density_60cubed": density_benchmark(args.repeats),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
