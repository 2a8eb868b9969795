"""Memory needed to build a density on pw.x's G list, checked before the work starts.

The cost of the ACS and of a prediction grows with the number of G vectors
(ngm ≈ Ω · ecutrho^{3/2} / 6π², Ω in bohr³, ecutrho in Ry) and with the FFT grid;
both are known from the cell and the cutoff before anything is computed. The
per-G and per-grid-point figures below were measured (peak RSS of ``rhocat
predict``, basis model, 64 and 216 Si atoms at 240 Ry: 0.60 GB and 0.82 GB) and
rounded up.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import numpy as np

from rhocat.errors import InputError

#: Bytes per G vector (Miller indices, |G|, shells, ACS, Δρ, ρ and their temporaries).
BYTES_PER_G = 250
#: Bytes per FFT grid point (complex grid, ρ(r), floor and masks).
BYTES_PER_GRID_POINT = 80
#: Python, numpy, ASE and torch themselves.
BASE_BYTES = 350 * 2**20
#: Above this many G vectors, predict and acs say what they are doing on stderr.
LARGE_NGM = 200_000
#: Environment variable that caps the memory rhocat may use (bytes; K, M, G suffixes).
MEMORY_ENV = "RHOCAT_MEMORY_LIMIT"


@dataclass
class DensityCost:
    """Size of a density on pw.x's G list: ngm (estimate), FFT grid, bytes needed."""

    ngm: int
    fft_grid: tuple[int, int, int]
    bytes: int

    def describe(self) -> str:
        grid = "x".join(str(n) for n in self.fft_grid)
        return f"{self.ngm / 1e6:.2f} M G vectors, {grid} grid, about {_gb(self.bytes)}"


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB"


def density_cost(cell_bohr: np.ndarray, ecutrho_ry: float) -> DensityCost:
    """Estimated ngm, FFT grid and peak memory (bytes) of a density at ``ecutrho_ry``
    (Ry) for a cell (rows, bohr); no G list is built."""
    from rhocat.qe.gvectors import fft_grid_shape

    volume = abs(float(np.linalg.det(cell_bohr)))
    ngm = int(volume * float(ecutrho_ry) ** 1.5 / (6 * math.pi**2))
    grid = tuple(int(n) for n in fft_grid_shape(cell_bohr, ecutrho_ry))
    need = BASE_BYTES + BYTES_PER_G * ngm + BYTES_PER_GRID_POINT * int(np.prod(grid))
    return DensityCost(ngm=ngm, fft_grid=grid, bytes=int(need))


def _parse_bytes(text: str) -> int:
    text = text.strip().upper().rstrip("B")
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    try:
        if text and text[-1] in scale:
            return int(float(text[:-1]) * scale[text[-1]])
        return int(float(text))
    except ValueError:
        raise InputError(f"{MEMORY_ENV}={text!r} is not a size (e.g. 8G, 512M)") from None


def available_memory_bytes() -> int | None:
    """``$RHOCAT_MEMORY_LIMIT`` if set, else the kernel's MemAvailable (Linux), else None."""
    env = os.environ.get(MEMORY_ENV)
    if env:
        return _parse_bytes(env)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_density_memory(
    cell_bohr: np.ndarray, ecutrho_ry: float, n_atoms: int, what: str, *, progress: bool = False
) -> DensityCost:
    """Refuse, before any work, a density that would not fit in memory.

    Args:
        cell_bohr: (3, 3) lattice vectors (rows), bohr.
        ecutrho_ry: density cutoff, Ry.
        n_atoms: atoms in the cell (to say how many would fit).
        what: the task, for messages (e.g. ``"predict Si216"``).
        progress: on a large cell, say on stderr what is being computed.

    Raises:
        InputError: saying what is needed, what is available, and what would fit
            (fewer atoms at this cutoff, or a lower cutoff for this cell).
    """
    cost = density_cost(cell_bohr, ecutrho_ry)
    avail = available_memory_bytes()
    if avail is not None and cost.bytes > avail:
        room = max(avail - BASE_BYTES, 0) / max(cost.bytes - BASE_BYTES, 1)
        atoms_fit = int(n_atoms * room)
        ecut_fit = ecutrho_ry * room ** (2 / 3)
        raise InputError(
            f"{what}: needs about {_gb(cost.bytes)} ({cost.describe().split(', about')[0]}), "
            f"{_gb(avail)} available: about {atoms_fit} atoms of this density would fit, "
            f"or ecutrho <= {ecut_fit:.0f} Ry for this cell ({MEMORY_ENV} sets the limit)"
        )
    if progress and cost.ngm > LARGE_NGM:
        print(f"rhocat: {what}: {cost.describe()}", file=sys.stderr, flush=True)
    return cost
