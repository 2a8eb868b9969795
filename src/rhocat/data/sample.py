"""One structure with its converged and ACS densities, in memory.

This is the unit that flows from the dataset (``rhocat.data``) into training
(``rhocat.train``) and evaluation. It holds plain arrays only, so models and
training never touch a file format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rhocat.units import BOHR_PER_ANGSTROM as BOHR_PER_ANGSTROM  # re-exported


@dataclass
class DensitySample:
    """A structure and its densities on QE's G-vector list.

    Attributes:
        id: stable structure id (e.g. ``rocksalt-GaN``).
        numbers: (n_atoms,) atomic numbers.
        positions_bohr: (n_atoms, 3) Cartesian positions, bohr.
        cell_bohr: (3, 3) lattice vectors as rows, bohr.
        miller: (ngm, 3) Miller indices of the G vectors of the reference run.
        rho_g: (nspin, ngm) complex converged density ρ(G), e/bohr³
            (nspin 2: total, then magnetization).
        rho_acs_g: (ngm,) complex atomic charge superposition ρ_ACS(G), e/bohr³.
        fft_grid: (n1, n2, n3) real-space FFT grid of the reference run.
        split: name of the split this structure belongs to (``train``, ...).
        meta: anything else (formula, energies, SCF history, pseudo md5s).
    """

    id: str
    numbers: np.ndarray
    positions_bohr: np.ndarray
    cell_bohr: np.ndarray
    miller: np.ndarray
    rho_g: np.ndarray
    rho_acs_g: np.ndarray
    fft_grid: tuple[int, int, int]
    split: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def volume_bohr3(self) -> float:
        """Cell volume Ω in bohr³."""
        return float(abs(np.linalg.det(self.cell_bohr)))

    @property
    def elements(self) -> list[str]:
        """Chemical symbols of the structure's elements, sorted (its element combination)."""
        from ase.data import chemical_symbols

        return sorted({chemical_symbols[int(z)] for z in self.numbers})

    @property
    def g_cart(self) -> np.ndarray:
        """(ngm, 3) Cartesian G vectors in 1/bohr: G = m · b (2π included)."""
        from rhocat.qe.gvectors import g_cartesian

        return g_cartesian(self.cell_bohr, self.miller)

    @property
    def delta_rho_g(self) -> np.ndarray:
        """(ngm,) complex target of the models: ρ_SCF(G) − ρ_ACS(G), total charge, e/bohr³."""
        return self.rho_g[0] - self.rho_acs_g
