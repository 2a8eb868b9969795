"""Real densities of tiny cells (pw.x, US pseudopotentials, 20 Ry) shared by the training tests."""

from __future__ import annotations

import os

import numpy as np
import pytest
from ase.build import bulk

from rhocat.data.sample import BOHR_PER_ANGSTROM, DensitySample

TINY = {"system": {"ecutwfc": 20.0, "ecutrho": 80.0}, "k_points": [3, 3, 3]}

#: A model small enough to train in seconds on 2 cores.
_TINY_BASIS = {
    "model": {
        "basis": {"l_max": 3, "n_alpha": 5, "alpha_min": 0.25, "ratio": 2.2},
        "hidden_muls": [8, 4, 2],
        "n_layers": 1,
        "n_rbf": 6,
        "radial_hidden": 16,
    },
    "train": {"lr": 1e-2, "val_every": 2},
}


@pytest.fixture
def tiny_basis() -> dict:
    """Config of a basis model small enough to train in seconds on 2 cores."""
    import copy

    return copy.deepcopy(_TINY_BASIS)


def real_sample(atoms, ident: str, split: str, workdir) -> DensitySample:
    """Run pw.x on ``atoms`` and return its density and ACS as a DensitySample."""
    from rhocat.qe.acs import acs_rho_g
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.scf import run_scf

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    res = run_scf(atoms, overrides=TINY, ranks=1, workdir=workdir)
    assert res.converged, res.reason
    dens = read_charge_density(os.path.join(res.save_dir, "charge-density.dat"))
    acs = acs_rho_g(atoms, load_family("debian-pbe"), dens.miller)
    return DensitySample(
        id=ident,
        numbers=atoms.numbers.copy(),
        positions_bohr=atoms.positions * BOHR_PER_ANGSTROM,
        cell_bohr=np.array(atoms.cell) * BOHR_PER_ANGSTROM,
        miller=dens.miller,
        rho_g=dens.rho_g,
        rho_acs_g=acs,
        fft_grid=tuple(res.fft_grid),
        split=split,
        meta={"qe_version": res.qe_version, "pseudos": res.pseudos},
    )


@pytest.fixture(scope="session")
def real_samples(tmp_path_factory):
    """Si and C diamond (+ a strained Si) to train on, zincblende SiC (unseen pair) to validate."""
    root = tmp_path_factory.mktemp("pw")
    si = bulk("Si", "diamond", a=5.43)
    si_strained = si.copy()
    si_strained.set_cell(si.cell * 0.97, scale_atoms=True)
    si_strained.positions[1] += [0.05, -0.03, 0.02]
    c = bulk("C", "diamond", a=3.57)
    sic = bulk("SiC", "zincblende", a=4.36)
    return [
        real_sample(si, "si", "train", root / "si"),
        real_sample(c, "c", "train", root / "c"),
        real_sample(si_strained, "si-strained", "train", root / "si2"),
        real_sample(sic, "sic", "val", root / "sic"),
    ]
