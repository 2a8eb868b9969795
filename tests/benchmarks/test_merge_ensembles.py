"""benchmarks/merge_ensembles.py: one ensemble from the members of several."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import merge_ensembles  # noqa: E402

from tests.benchmarks.shared import predict_on_random_g  # noqa: E402


def _checkpoint(name: str):
    """A committed ensemble checkpoint of ``benchmarks/checkpoints``, loaded."""
    from rhocat.train import load_model

    return load_model(ROOT / "benchmarks" / "checkpoints" / name)


def test_members_in_order_with_the_first_card():
    """Seeds 0-4 and 5-9 of the 8000-step recipe, as merged for the ensemble of 10."""
    a = _checkpoint("ensemble-8000.pt")
    b = _checkpoint("seeds59-8000.pt")
    a.config["shrink_c"] = b.config["shrink_c"] = 0.0
    m = merge_ensembles.merged([a, b])
    assert len(m.members) == len(a.members) + len(b.members) == 10
    for mine, theirs in zip(m.members, [*a.members, *b.members], strict=True):
        for x, y in zip(mine.parameters(), theirs.parameters(), strict=True):
            assert np.array_equal(x.detach().numpy(), y.detach().numpy())
    assert m.metadata == a.metadata and m.metadata is not a.metadata
    # unshrunk, the merged mean is the mean of the two ensembles' means (5 members each)
    atoms = bulk("GaAs", "zincblende", a=5.65)
    expected = (
        predict_on_random_g(a, atoms).delta_rho_g + predict_on_random_g(b, atoms).delta_rho_g
    ) / 2
    np.testing.assert_allclose(
        predict_on_random_g(m, atoms).delta_rho_g, expected, rtol=1e-9, atol=1e-12
    )


def test_members_trained_on_other_data_are_refused():
    """The iodide model's members normalise by another training set's neighbour count: their
    coefficients would be wrong under the 8000-step members' configuration."""
    from rhocat.errors import ModelError

    ours = _checkpoint("ensemble-8000.pt")
    other = _checkpoint("iodides-8000.pt")
    with pytest.raises(ModelError, match="these differ: avg_neighbours$"):
        merge_ensembles.merged([ours, other])


def test_members_from_another_floor_are_refused():
    """The shipped members start from the validation-chosen floor (λ = 1e-6): merged with
    members fitted at λ = 10 their baselines would disagree."""
    from rhocat.errors import ModelError
    from rhocat.pretrained import load_pretrained

    other = _checkpoint("seeds59-8000.pt")
    with pytest.raises(ModelError, match="baseline_ridge_lambda"):
        merge_ensembles.merged([load_pretrained(), other])


def test_one_checkpoint_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        merge_ensembles.main(["a.pt", "--snapshot", "s.json", "-o", "o.pt"])
    assert exc.value.code == 2 and "two or more" in capsys.readouterr().err
