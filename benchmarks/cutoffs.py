"""Total-energy convergence of the ``debian-pbe`` cutoffs (prints JSON).

For each element of the family: its elemental crystal (ASE's reference
structure, or a zincblende/rocksalt compound for N and O) at ecutwfc from 20 to
60 Ry (ecutrho = dual × ecutwfc, the family's dual); the error of the total
energy per atom against 60 Ry, in meV/atom, at each cutoff, and at the family's
chosen cutoff. pw.x ``fast`` protocol, 1 MPI rank per run.

Usage: ``python benchmarks/cutoffs.py [--elements Si,Ni] [--cutoffs 20,25,30,35,40,50,60]``
"""

from __future__ import annotations

import argparse
import json
import tempfile

from ase.build import bulk

from rhocat.qe.parse import RY_EV
from rhocat.qe.pseudo import load_family
from rhocat.qe.scf import run_scf

COMPOUNDS = {
    "N": ("BN", "zincblende", 3.62),
    "B": ("BN", "zincblende", 3.62),
    "O": ("NiO", "rocksalt", 4.17),
    "Ga": ("GaAs", "zincblende", 5.65),
    "H": None,
    "I": None,
}


def structure(element: str):
    if element in COMPOUNDS:
        spec = COMPOUNDS[element]
        return None if spec is None else bulk(spec[0], spec[1], a=spec[2])
    try:
        return bulk(element)
    except (ValueError, KeyError, RuntimeError):
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--elements", default="")
    ap.add_argument("--cutoffs", default="20,25,30,35,40,50,60")
    args = ap.parse_args()
    fam = load_family("debian-pbe")
    elements = [e for e in args.elements.split(",") if e] or fam.elements()
    cutoffs = [float(c) for c in args.cutoffs.split(",")]
    out = {}
    for el in elements:
        atoms = structure(el)
        if atoms is None:
            out[el] = {"skipped": "no simple crystal"}
            continue
        dual = fam[el].ecutrho / fam[el].ecutwfc
        chosen = fam.cutoffs(atoms.get_chemical_symbols())[0]
        energies = {}
        for c in sorted(set(cutoffs + [chosen])):
            with tempfile.TemporaryDirectory() as tmp:
                r = run_scf(
                    atoms,
                    workdir=tmp,
                    ranks=1,
                    overrides={"system": {"ecutwfc": c, "ecutrho": dual * c}},
                    timeout_s=600,
                )
            if r.converged:
                energies[c] = r.energy_ry * RY_EV * 1000 / len(atoms)
        ref = energies.get(max(cutoffs))
        out[el] = {
            "structure": atoms.get_chemical_formula(),
            "chosen_ecutwfc_ry": chosen,
            "error_mev_per_atom": {str(c): e - ref for c, e in energies.items()} if ref else None,
            "error_at_chosen_mev_per_atom": energies.get(chosen, float("nan")) - ref
            if ref
            else None,
        }
        print(el, json.dumps(out[el]), flush=True, file=__import__("sys").stderr)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
