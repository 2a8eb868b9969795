"""ASE: the Espresso calculator starts pw.x from rhocat's predicted density.

    python examples/ase_warm_start.py [-o DIR] [--ecutwfc 20] [--ecutrho 160]

Uses rhocat's `debian-pbe` files for the pseudopotentials (put your own
`pseudo_dir` and `pseudopotentials` in their place). The warm start is the one
line marked below; the script runs the same calculator set-up from pw.x's
atomic start too and prints both energies.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ase.build import bulk
from ase.calculators.espresso import Espresso, EspressoProfile

from rhocat.predict.ase import espresso_warm_start
from rhocat.qe.pseudo import load_family


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=None, help="work folder (default: temporary)")
    parser.add_argument("--ecutwfc", type=float, default=20.0, help="Ry")
    parser.add_argument("--ecutrho", type=float, default=160.0, help="Ry")
    args = parser.parse_args()
    work = Path(args.output or tempfile.mkdtemp(prefix="rhocat-ase-"))
    si = load_family("debian-pbe")["Si"]

    def calculator(directory: Path) -> Espresso:
        return Espresso(
            profile=EspressoProfile(command="pw.x", pseudo_dir=str(si.path.parent)),
            directory=str(directory),
            pseudopotentials={"Si": si.filename},
            input_data={
                "system": {
                    "ecutwfc": args.ecutwfc,
                    "ecutrho": args.ecutrho,
                    "occupations": "smearing",
                    "smearing": "cold",
                    "degauss": 0.02,
                },
                "electrons": {"conv_thr": 1e-9},
            },
            kpts=(4, 4, 4),
        )

    for label in ("atomic", "rhocat"):
        atoms = bulk("Si", "diamond", a=5.43)
        calc = calculator(work / label)
        if label == "rhocat":
            espresso_warm_start(calc, atoms)  # <- the one line that makes it a warm start
        atoms.calc = calc
        energy = atoms.get_potential_energy()
        out = (work / label / "espresso.pwo").read_text()
        read = "The initial density is read from file" in out
        print(f"{label} start: energy={energy:.8f} eV density read from file={read}")


if __name__ == "__main__":
    main()
