"""The AiiDA engine of the dataset builder, for real, against the local engine.

A throwaway AiiDA profile (rhocat.qe.aiida.temporary_profile) runs the same
tiny structure as a local build; both datasets must hold the same density.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from rhocat.data.build import BuildConfig, Job, build_dataset
from rhocat.data.check import check_dataset
from rhocat.data.engines import AiidaEngine, LocalEngine
from rhocat.data.manifest import Manifest
from rhocat.data.store import Dataset
from rhocat.qe import aiida as ra

pytestmark = [pytest.mark.aiida, pytest.mark.needs_pw]


def test_aiida_engine_stores_the_same_entry_as_the_local_one(tmp_path):
    jobs = [Job("diamond-Si", "train", bulk("Si", "diamond", a=5.43))]
    manifest = Manifest(
        overrides={"ecutwfc": 20.0, "ecutrho": 160.0, "k_points": [2, 2, 2]}, perturb_ang=0.02
    )
    config = BuildConfig(manifest, ranks=1)
    local = build_dataset(jobs, tmp_path / "local", config, engine=LocalEngine(1), progress=False)
    assert local.done == 1
    with ra.temporary_profile(tmp_path / "aiida"):
        report = build_dataset(
            jobs, tmp_path / "aiida-data", config, engine=AiidaEngine(daemon=False), progress=False
        )
    assert (report.done, report.failed) == (1, 0), report.failures
    assert check_dataset(tmp_path / "aiida-data").clean
    with Dataset(tmp_path / "local") as a, Dataset(tmp_path / "aiida-data") as b:
        ra_, rb = a.record("diamond-Si"), b.record("diamond-Si")
        assert rb.meta["engine"] == "aiida"
        # the same perturbed structure and the same pw.x parameters ...
        assert np.allclose(ra_.positions_bohr, rb.positions_bohr, atol=1e-9)
        assert ra_.meta["parameters"]["system"] == rb.meta["parameters"]["system"]
        # ... give the same density and SCF history
        assert np.array_equal(ra_.miller, rb.miller)
        assert np.allclose(ra_.rho_g, rb.rho_g, atol=1e-9)
        assert np.allclose(ra_.rho_acs_g, rb.rho_acs_g, atol=1e-12)
        assert rb.meta["iterations"] == ra_.meta["iterations"]
        assert not list((tmp_path / "aiida-data" / "work" / "aiida").glob("*/*"))
