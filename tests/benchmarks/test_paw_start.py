"""benchmarks/paw_start.py on one PAW cell of the benchmark dataset (real pw.x runs)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import paw_start  # benchmarks/ is on the path (tests.benchmarks.shared)

pytestmark = [pytest.mark.needs_pw, pytest.mark.slow, needs_dataset]


def test_every_occupation_variant_runs_and_the_acs_control_is_the_acs(tmp_path):
    from rhocat.data.store import Dataset
    from rhocat.evaluate.runner import sample_atoms
    from rhocat.qe.acs import acs_rho_g
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.pseudo import load_family
    from rhocat.train import load_model

    ds = Dataset(DATASET)
    sample = ds.load("CsCl-GaNi")  # Ga is PAW in debian-pbe
    family = load_family(ds.manifest.family)
    out = paw_start.variants(load_model(MODEL), sample, family, tmp_path, ranks=1)
    expected = {"acs+atomic (pw.x)", "pred+model", "pred+atomic", "pred+shrunk", "acs+model"}
    assert expected <= set(out)
    assert out["becsum_source"] == "model" and 0 < out["shrink"] <= 1
    assert all(isinstance(out[k], int) and out[k] > 0 for k in expected)  # all converged
    acs = read_charge_density(tmp_path / "acs-start" / "charge-density.dat")
    ref = acs_rho_g(sample_atoms(sample), family, acs.miller)
    np.testing.assert_allclose(acs.rho_g[0], ref, rtol=0, atol=1e-12)
    assert (tmp_path / "acs-start" / "paw.txt").is_file()  # the model's occupations
