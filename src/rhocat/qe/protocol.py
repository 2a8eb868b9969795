"""SCF protocols: k-point density, smearing, mixing and convergence threshold.

The values live in ``rhocat/qe/data/protocols.json`` with a note on their source:
aiida-quantumespresso's protocols, which the paper's workflow used (``fast`` for
every relaxation in the paper). ``fast`` takes its k-point spacing from the releases
before 2025 and its smearing from the 2025 ones (details in the file):

========== ================== ================ ============ =====================
protocol   k-point spacing    cold smearing    mixing_beta  conv_thr per atom
========== ================== ================ ============ =====================
fast       0.50 Å⁻¹ (2π incl.) 0.0275 Ry        0.4          0.4e-9 Ry
moderate   0.15 Å⁻¹            0.02 Ry          0.4          0.2e-9 Ry
========== ================== ================ ============ =====================

Cutoffs are not part of a protocol: they come from the pseudopotential family
(the maximum over the species of a structure). Everything can be overridden.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from importlib.resources import files

import numpy as np

from rhocat.errors import InputError


@dataclass(frozen=True)
class Protocol:
    """Numerical settings of an SCF run.

    Attributes:
        name: protocol name.
        kpoints_distance: maximum spacing of the Monkhorst-Pack mesh, Å⁻¹, measured
            with the 2π-including reciprocal vectors (aiida-quantumespresso's rule).
        smearing: pw.x ``smearing`` (``cold`` = Marzari-Vanderbilt).
        degauss: smearing width, Ry.
        mixing_beta: pw.x ``mixing_beta``.
        conv_thr_per_atom: SCF threshold per atom, Ry (pw.x ``conv_thr`` = this × N_atoms).
        electron_maxstep: maximum SCF iterations.
        etot_conv_thr_per_atom: relaxation energy threshold per atom, Ry.
        forc_conv_thr: relaxation force threshold, Ry/bohr.
    """

    name: str
    kpoints_distance: float
    smearing: str = "cold"
    degauss: float = 0.0275
    mixing_beta: float = 0.4
    conv_thr_per_atom: float = 0.4e-9
    electron_maxstep: int = 100
    etot_conv_thr_per_atom: float = 1.0e-4
    forc_conv_thr: float = 1.0e-3

    def to_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, **overrides) -> Protocol:
        unknown = set(overrides) - set(asdict(self))
        if unknown:
            raise InputError(f"unknown protocol setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **overrides)

    def kpoint_mesh(self, cell_angstrom: np.ndarray) -> tuple[int, int, int]:
        """Monkhorst-Pack mesh for a cell (rows = lattice vectors, Å)."""
        recip = 2.0 * math.pi * np.linalg.inv(np.asarray(cell_angstrom, dtype=float)).T
        return tuple(
            max(1, math.ceil(float(np.linalg.norm(b)) / self.kpoints_distance - 1e-8))
            for b in recip
        )


#: The protocols' values and their source: ``rhocat/qe/data/protocols.json``.
PROTOCOLS_FILE = files("rhocat.qe") / "data" / "protocols.json"


def load_protocols(path=PROTOCOLS_FILE) -> dict[str, Protocol]:
    """The named protocols of a protocols JSON file (default: rhocat's own)."""
    table = json.loads(path.read_text())["protocols"]
    return {name: Protocol(name, **values) for name, values in table.items()}


PROTOCOLS: dict[str, Protocol] = load_protocols()


def get_protocol(protocol: str | Protocol = "fast", **overrides) -> Protocol:
    """A protocol by name (``fast``, ``moderate``) or passed through, with overrides."""
    if isinstance(protocol, Protocol):
        base = protocol
    else:
        try:
            base = PROTOCOLS[protocol]
        except KeyError:
            raise InputError(
                f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}"
            ) from None
    return base.with_overrides(**overrides) if overrides else base
