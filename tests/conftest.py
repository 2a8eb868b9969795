"""Shared fixtures: small real structures and a check that pw.x is installed."""

from __future__ import annotations

import os
import shutil

import pytest
from ase.build import bulk

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Tests run in parallel (pytest -n 2): one MPI rank per pw.x keeps the 2 cores busy.
os.environ.setdefault("RHOCAT_RANKS", "1")


def pytest_sessionstart(session):
    if shutil.which("pw.x") is None:
        raise pytest.UsageError(
            "pw.x is not installed: run `make test` (it installs Quantum ESPRESSO) or "
            "apt-get install quantum-espresso quantum-espresso-data"
        )


#: Low cutoffs that keep a 2-atom SCF around a second (not converged physics).
LOW_CUTOFF = {"system": {"ecutwfc": 20.0, "ecutrho": 160.0}}


@pytest.fixture
def si_atoms():
    """Diamond Si, primitive 2-atom cell (Å)."""
    return bulk("Si", "diamond", a=5.43)


@pytest.fixture
def low_cutoff():
    return {k: dict(v) for k, v in LOW_CUTOFF.items()}
