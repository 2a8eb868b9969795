"""Element features, the ensemble's mean, uncertainty and shrinkage (rhocat.models.ensemble)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rhocat.models.elements import ElementFeatures, element_property_table
from rhocat.models.ensemble import EnsembleModel
from rhocat.models.equivariant import EquivariantBasisModel

SMALL = {"hidden_muls": [8, 4, 2], "n_layers": 2, "basis": {"l_max": 4, "n_alpha": 3}}


def _random_member(seed, features=False):
    torch.manual_seed(seed)
    m = EquivariantBasisModel({**SMALL, "element_features": features}, [6, 14])
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.3)
    return m.eval()


def test_property_table_is_standardized_and_chemical():
    names, table = element_property_table()
    assert len(names) == 8 and table.shape[1] == 8
    assert np.all(np.isfinite(table)) and np.all(table[0] == 0.0)
    assert np.abs(table[1:].mean(axis=0)).max() < 0.2  # z-scores (gaps set to the mean, 0)
    si, ge, i_ = table[14], table[32], table[53]
    assert np.linalg.norm(si - ge) < np.linalg.norm(ge - i_)  # group 14 siblings are close


def test_element_features_give_each_element_its_own_vector():
    f = ElementFeatures(6).double()
    out = f(torch.tensor([14, 32, 14]))
    assert out.shape == (3, 6)
    assert torch.equal(out[0], out[2]) and not torch.allclose(out[0], out[1])


def test_basis_model_with_element_features_is_charge_conserving(triclinic, g_of):
    numbers, positions, cell, miller = triclinic
    m = _random_member(1, features=True)
    rho = m.delta_rho_g(numbers, positions, cell, g_of(cell, miller))
    assert abs(rho[np.all(miller == 0, axis=1)][0]) < 1e-14
    assert np.abs(rho).max() > 1e-6  # the random network does predict something


def test_ensemble_mean_is_the_mean_of_its_members(triclinic, g_of):
    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    members = [_random_member(s) for s in (1, 2, 3)]
    ens = EnsembleModel.from_members(members, shrink_c=0.0)
    expected = np.mean([m.delta_rho_g(numbers, positions, cell, g) for m in members], axis=0)
    pred = ens.predict(numbers, positions, cell, g)
    assert pred.shrink == 1.0 and pred.members == 3
    tol = 1e-12 * np.abs(expected).max()
    np.testing.assert_allclose(pred.delta_rho_g, expected, rtol=0, atol=tol)


def test_batched_members_follow_changed_weights(triclinic, g_of):
    """The stacked weights of the batched path are cached; a change must reach them."""
    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    ens = EnsembleModel.from_members([_random_member(s) for s in (1, 2)], shrink_c=0.0)
    before = ens.predict(numbers, positions, cell, g).delta_rho_g
    np.testing.assert_array_equal(ens.predict(numbers, positions, cell, g).delta_rho_g, before)
    with torch.no_grad():  # in place, as an optimizer step or load_state_dict does
        for p in ens.members[0].parameters():
            p.mul_(1.5)
    changed = ens.predict(numbers, positions, cell, g).delta_rho_g
    members = list(ens.members)
    expected = np.mean([m.delta_rho_g(numbers, positions, cell, g) for m in members], axis=0)
    assert np.abs(changed - before).max() > 1e-6
    np.testing.assert_allclose(changed, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    ens.float().double()  # new storage, weights rounded to float32 on the way
    expected = np.mean([m.delta_rho_g(numbers, positions, cell, g) for m in ens.members], axis=0)
    assert np.abs(expected - changed).max() > 1e-10
    rounded = ens.predict(numbers, positions, cell, g).delta_rho_g
    np.testing.assert_allclose(rounded, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    ens.members[1] = _random_member(5)  # a member replaced by another module
    expected = np.mean([m.delta_rho_g(numbers, positions, cell, g) for m in ens.members], axis=0)
    replaced = ens.predict(numbers, positions, cell, g).delta_rho_g
    np.testing.assert_allclose(replaced, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_identical_members_are_certain_and_different_ones_shrink(triclinic, g_of):
    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    same = EnsembleModel.from_members([_random_member(1), _random_member(1)], shrink_c=1.0)
    p_same = same.predict(numbers, positions, cell, g)
    assert p_same.uncertainty < 1e-10 and p_same.shrink == pytest.approx(1.0)
    diff = EnsembleModel.from_members([_random_member(1), _random_member(7)], shrink_c=1.0)
    p = diff.predict(numbers, positions, cell, g)
    assert p.uncertainty > 0.05
    assert p.shrink == pytest.approx(1.0 / (1.0 + p.uncertainty**2))
    diff.config["shrink_c"] = 0.0
    unshrunk = diff.predict(numbers, positions, cell, g).delta_rho_g
    np.testing.assert_allclose(p.delta_rho_g, p.shrink * unshrunk, atol=1e-13)


def test_ensemble_checkpoint_round_trip(tmp_path, triclinic, g_of):
    from rhocat.train.checkpoint import checkpoint_dict, load_model, save_checkpoint

    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    ens = EnsembleModel.from_members([_random_member(1), _random_member(2)], shrink_c=2.0)
    path = save_checkpoint(tmp_path / "ens.pt", checkpoint_dict(ens))
    back = load_model(path)
    assert back.kind == "ensemble" and back.config["shrink_c"] == 2.0
    np.testing.assert_array_equal(
        back.delta_rho_g(numbers, positions, cell, g), ens.delta_rho_g(numbers, positions, cell, g)
    )


def test_calibration_picks_the_best_scale_on_samples(triclinic, g_of):
    """A 'truth' equal to half the mean: the best c is the one whose s is nearest 1/2."""
    from types import SimpleNamespace

    from rhocat.models.ensemble import calibrate_shrinkage

    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    ens = EnsembleModel.from_members([_random_member(1), _random_member(7)], shrink_c=0.0)
    pred = ens.predict(numbers, positions, cell, g)
    target = 0.5 * pred.delta_rho_g
    target[np.all(miller == 0, axis=1)] = 0.0
    sample = SimpleNamespace(
        numbers=numbers, positions_bohr=positions, cell_bohr=cell, miller=miller, g_cart=g,
        delta_rho_g=target, volume_bohr3=abs(np.linalg.det(cell)),
    )  # fmt: skip
    grid = (0.0, 0.5, 1.0, 2.0, 4.0, 1000.0)
    best, scores = calibrate_shrinkage(ens, [sample], grid)
    u = pred.uncertainty
    s_of = {c: 1.0 / (1.0 + c * u * u) for c in grid}
    assert best == min(grid, key=lambda c: abs(s_of[c] - 0.5))
    assert scores[0.0] == pytest.approx(0.0, abs=1e-6)  # s = 1: error = truth
    assert max(scores.values()) <= 100.0 + 1e-9


def test_atom_descriptors_are_invariant_and_tell_environments_apart(triclinic):
    """Rotation (with inversion), translation and permutation of the atoms leave each
    atom's descriptor unchanged (permuted with it); moving one atom changes them."""
    from tests.models.test_equivariant import _rotation

    numbers, positions, cell, _ = triclinic
    member = _random_member(3, features=True)
    z = torch.as_tensor(numbers)

    def desc(pos, cel, order=slice(None)):
        with torch.no_grad():
            return member.atom_descriptors(z[order], member.graph(pos[order], cel)).numpy()

    ref = desc(positions, cell)
    assert ref.shape == (3, member.gates[-1].irreps_out.num_irreps)  # 8 + 4 + 2 channels
    rot = -_rotation(0.7, -1.1, 2.3)  # improper: rotation times inversion
    np.testing.assert_allclose(desc(positions @ rot.T, cell @ rot.T), ref, atol=1e-10)
    np.testing.assert_allclose(desc(positions + [0.9, -2.0, 0.4], cell), ref, atol=1e-10)
    perm = np.array([2, 0, 1])
    np.testing.assert_allclose(desc(positions, cell, perm), ref[perm], atol=1e-10)
    moved = positions.copy()
    moved[1] += [0.5, 0.0, 0.0]
    assert np.abs(desc(moved, cell) - ref).max() > 1e-3


def test_closed_form_shrink_capture_matches_direct_evaluation(triclinic, g_of):
    """captured_after_shrink(shrinkage_stats) equals the share computed from s·Δρ̄ itself."""
    from types import SimpleNamespace

    from rhocat.models.ensemble import captured_after_shrink, shrinkage_stats
    from rhocat.train.metrics import hartree_energy_ry

    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    ens = EnsembleModel.from_members([_random_member(1), _random_member(7)], shrink_c=3.0)
    rng = np.random.default_rng(0)
    target = ens.predict(numbers, positions, cell, g).delta_rho_g * 0.7
    target = target + 1e-3 * rng.normal(size=len(g))
    target[np.all(miller == 0, axis=1)] = 0.0
    vol = abs(np.linalg.det(cell))
    sample = SimpleNamespace(
        numbers=numbers, positions_bohr=positions, cell_bohr=cell, miller=miller, g_cart=g,
        delta_rho_g=target, volume_bohr3=vol,
    )  # fmt: skip
    stats = shrinkage_stats(ens, [sample])
    assert ens.config["shrink_c"] == 3.0  # restored
    ens.config["shrink_c"] = 0.0
    mean = ens.predict(numbers, positions, cell, g).delta_rho_g
    mean[np.all(miller == 0, axis=1)] = 0.0
    assert stats[0, 3] == pytest.approx(ens.predict(numbers, positions, cell, g).uncertainty)
    for s in (0.0, 0.4, 1.0, 1.3):
        err = hartree_energy_ry(s * mean - target, g, vol)
        direct = 100.0 * (1.0 - err / hartree_energy_ry(target, g, vol))
        assert captured_after_shrink(stats, np.array([s]))[0] == pytest.approx(direct, rel=1e-9)
    assert captured_after_shrink(stats, np.array([0.0]))[0] == pytest.approx(0.0, abs=1e-9)
