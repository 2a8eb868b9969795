"""Everything Quantum ESPRESSO: pseudopotentials, protocols, inputs, runs, parsers,
density and PAW files, and the atomic charge superposition (ACS) in Python.

Nothing outside this package knows a QE file format.
"""

from rhocat.qe.protocol import PROTOCOLS, Protocol, get_protocol
from rhocat.qe.pseudo import Pseudo, PseudoFamily, load_family
from rhocat.qe.scf import ScfResult, run_scf

__all__ = [
    "PROTOCOLS",
    "Protocol",
    "Pseudo",
    "PseudoFamily",
    "ScfResult",
    "get_protocol",
    "load_family",
    "run_scf",
]
