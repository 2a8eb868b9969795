"""benchmarks/ensemble_blend.py: ensembles of different member configurations as one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk

from tests.benchmarks.shared import BENCHMARKS, needs_dataset, predict_on_random_g

# isort: split
import ensemble_blend  # benchmarks/ is on the path (tests.benchmarks.shared)


def _checkpoint(name: str):
    from rhocat.train import load_model

    return load_model(BENCHMARKS / "checkpoints" / name)


def test_the_blend_is_the_mean_of_both_means_and_spreads_over_all_members():
    """The radial and the gate members (pair modes differ, so ``merge_ensembles`` cannot
    stack them): unshrunk, the blend of two ensembles of 5 is the mean of their means; its
    uncertainty counts the spread between the two groups, so it is not either group's."""
    from rhocat.errors import ModelError
    from rhocat.models.ensemble import EnsembleModel

    radial, gate = _checkpoint("pairradial-16000.pt"), _checkpoint("pairall-16000.pt")
    assert radial.config["member_config"]["pair_mode"] != gate.config["member_config"]["pair_mode"]
    atoms = bulk("NiAs", "zincblende", a=5.6)
    a, b = predict_on_random_g(radial, atoms, 0.0), predict_on_random_g(gate, atoms, 0.0)
    with pytest.raises(ModelError, match="these differ: pair_mode$"):
        EnsembleModel.from_members([*radial.members, *gate.members])
    blend = ensemble_blend.blended([radial, _checkpoint("pairall-16000.pt")])
    assert blend.blend_members == 10
    m = predict_on_random_g(blend, atoms, 0.0)
    np.testing.assert_allclose(
        m.delta_rho_g, (a.delta_rho_g + b.delta_rho_g) / 2, rtol=1e-9, atol=1e-12
    )
    assert m.uncertainty > 0 and m.uncertainty not in (a.uncertainty, b.uncertainty)
    # with shrinkage the scale follows the blend's own u
    shrunk = predict_on_random_g(blend, atoms, 4.0)
    assert shrunk.shrink == pytest.approx(1.0 / (1.0 + 4.0 * m.uncertainty**2))


def test_another_basis_is_refused():
    from rhocat.errors import ModelError

    radial = _checkpoint("pairradial-16000.pt")
    other = _checkpoint("pairall-16000.pt")
    other.spec = object()
    with pytest.raises(ModelError, match="basis and elements"):
        ensemble_blend.blended([radial, other])


def test_one_checkpoint_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        ensemble_blend.main(["a.pt", "--snapshot", "s.json", "-o", "o.json"])
    assert exc.value.code == 2 and "two or more" in capsys.readouterr().err


@needs_dataset
def test_figures_on_a_small_snapshot(tmp_path):
    """End to end on 3 validation and 2 test structures: each ensemble alone and the blend,
    c chosen on val from the grid, and the blend's val capture between nothing and 100%."""
    full = json.loads((BENCHMARKS / "full_snapshot_val206.json").read_text())
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps({"val": full["val"][:3], "test_binary": full["test_binary"][:2]}))
    out = tmp_path / "blend.json"
    paths = [
        str(BENCHMARKS / "checkpoints" / n) for n in ("pairradial-16000.pt", "pairall-16000.pt")
    ]
    assert ensemble_blend.main([*paths, "--snapshot", str(snap), "-o", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res["alone"]) == set(paths) and res["blend"]["members"] == 10
    for fig in [*res["alone"].values(), res["blend"]]:
        assert fig["val"]["n"] == 3 and fig["test"]["n"] == 2
        assert fig["chosen_c"] in {float(c) for c in fig["captured_mean_pct"]}
        assert set(fig["test"]["captured_pct"]) == set(full["test_binary"][:2])
    assert 0.0 < res["blend"]["val"]["captured_mean_pct"] < 100.0
