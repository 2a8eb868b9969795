"""Predict a start density and run pw.x from it, from Python.

    python examples/predict_and_run.py [STRUCTURE_FILE] [--ecutwfc 20] [--ecutrho 160] [-o DIR]

STRUCTURE_FILE is any file pymatgen or ASE reads (default: diamond Si). The
shipped pretrained model predicts the density; pw.x then runs twice, from its
own atomic start and from the prediction, with the same settings, and the
script prints both SCF histories' lengths and energies.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pymatgen.core import Lattice, Structure

from rhocat.predict import predict_restart
from rhocat.pretrained import load_pretrained
from rhocat.qe.scf import run_scf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("structure", nargs="?", help="structure file (default: diamond Si)")
    parser.add_argument("--ecutwfc", type=float, default=20.0, help="Ry")
    parser.add_argument("--ecutrho", type=float, default=160.0, help="Ry")
    parser.add_argument("-o", "--output", default=None, help="work folder (default: temporary)")
    args = parser.parse_args()

    if args.structure:
        structure = Structure.from_file(args.structure)  # a pymatgen Structure ...
    else:
        a = 5.43
        lattice = Lattice([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]])
        structure = Structure(lattice, ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    # ... goes straight in (ASE Atoms and AiiDA StructureData too)
    cutoffs = {"system": {"ecutwfc": args.ecutwfc, "ecutrho": args.ecutrho}}
    work = Path(args.output or tempfile.mkdtemp(prefix="rhocat-example-"))

    pred = predict_restart(load_pretrained(), structure, out_dir=work / "start", overrides=cutoffs)
    print(
        f"predicted {pred.formula}: {pred.ngm} G vectors, {pred.n_electrons:g} electrons, "
        f"model {pred.inference_s:.3f} s, PAW occupations: {pred.becsum_source}"
    )
    atomic = run_scf(structure, overrides=cutoffs, workdir=work / "atomic")
    warm = run_scf(structure, start=pred.restart_dir, overrides=cutoffs, workdir=work / "warm")
    for label, r in (("atomic start", atomic), ("rhocat start", warm)):
        if not r.converged:
            print(f"{label}: not converged: {r.reason}")
            continue
        print(
            f"{label}: converged=True iterations={r.iterations} "
            f"energy={r.energy_ry:.8f} Ry first accuracy={r.scf_accuracy_ry[0]:.2e} Ry"
        )


if __name__ == "__main__":
    main()
