"""How long candidate generation takes: oxidation-state guesses and the demo's enumeration.

Prints JSON: the wall time (s) of guessing oxidation states for 7 formulas in a fresh
process (pymatgen's tables loaded once, included) and of enumerating the candidates of
the demo's 14 elements (``rhocat.structures.enumerate_candidates``), with the counts of
candidates by number of elements. Targets: guesses < 2 s, enumeration < 20 s.

    python benchmarks/candidates_speed.py [-o benchmarks/results_candidates_speed.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rhocat.structures import enumerate_candidates
from rhocat.structures.candidate import guess_oxidation_states

FORMULAS = ["CrFeO3", "NiRhO3", "Cu2NiGa", "FeAs2", "GaAs", "SiC", "Ag2O"]
DEMO_ELEMENTS = "B C N O Si Ge Ga As Cr Fe Ni Cu Rh Ag".split()


def main() -> dict:
    t0 = time.perf_counter()
    for formula in FORMULAS:
        guess_oxidation_states(formula)
    guesses_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    gen = enumerate_candidates(DEMO_ELEMENTS)
    enumerate_s = time.perf_counter() - t0
    by_n: dict[int, int] = {}
    for c in gen.candidates:
        by_n[c.n_elements] = by_n.get(c.n_elements, 0) + 1
    return {
        "oxidation_guesses": {"formulas": len(FORMULAS), "wall_s": round(guesses_s, 3),
                              "target_s": 2.0},
        "demo_enumeration": {"elements": len(DEMO_ELEMENTS), "wall_s": round(enumerate_s, 2),
                             "target_s": 20.0, "candidates_by_n_elements": by_n},
    }  # fmt: skip


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    text = json.dumps(main(), indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    cli()
