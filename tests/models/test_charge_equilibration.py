"""The charge-equilibration head of the basis model (``charge_equilibration: true``)."""

from __future__ import annotations

import numpy as np
import torch

from rhocat.models.basis import BasisSpec, evaluate_g, monopoles
from rhocat.models.ensemble import EnsembleModel
from rhocat.models.equivariant import EquivariantBasisModel

SMALL = {
    "hidden_muls": [8, 4, 2],
    "n_layers": 2,
    "basis": {"l_max": 2, "n_alpha": 3},
    "element_features": True,
    "charge_equilibration": True,
}


def _random_model(seed, **overrides):
    torch.manual_seed(seed)
    m = EquivariantBasisModel({**SMALL, **overrides}, [6, 14, 53])
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.3)
    return m.eval()


def test_monopoles_are_the_charge_of_each_l0_function():
    spec = BasisSpec(l_max=1, n_alpha=4)
    m = monopoles(spec)
    tiny_g = torch.tensor([[1e-6, 0.0, 0.0]], dtype=torch.float64)
    for k in range(spec.size):
        c = torch.zeros(1, spec.size, dtype=torch.float64)
        c[0, k] = 1.0
        charge = evaluate_g(spec, c, torch.zeros(1, 3, dtype=torch.float64), tiny_g, 1.0)
        expected = m[k] if k < spec.n_alpha else 0.0  # p functions carry no charge
        assert abs(charge.real.item() - expected) < 1e-6 * max(1.0, abs(expected))


def test_transferred_charges_sum_to_zero_and_sit_on_the_atoms(triclinic):
    numbers, positions, cell, _ = triclinic
    m = _random_model(0)
    scalars = torch.randn(3, 8, dtype=torch.float64)
    q = m.charge_eq.charges(scalars)
    assert q.abs().max() > 1e-3 and abs(q.sum().item()) < 1e-14
    # the charge each atom's l = 0 coefficients gain is its q_i
    placed = m.charge_eq(torch.as_tensor(numbers), scalars).detach().numpy()
    np.testing.assert_allclose(placed @ monopoles(m.spec), q.detach().numpy(), atol=1e-12)


def test_electrons_go_to_the_more_electronegative_atom():
    m = _random_model(1)
    head = m.charge_eq
    with torch.no_grad():
        head.chi.weight.zero_()
        head.chi.weight[0, 0] = 1.0  # χ_i = h_i0
        head.chi.bias.zero_()
    scalars = torch.zeros(2, 8, dtype=torch.float64)
    scalars[1, 0] = 2.0
    q = head.charges(scalars)
    assert q[1] > 0 > q[0]


def test_untrained_head_moves_no_charge(triclinic, g_of):
    numbers, positions, cell, miller = triclinic
    fresh = EquivariantBasisModel(SMALL, [6, 14])
    assert np.all(fresh.delta_rho_g(numbers, positions, cell, g_of(cell, miller)) == 0)
    assert torch.all(fresh.charge_eq.charges(torch.randn(3, 8, dtype=torch.float64)) == 0)


def test_charges_couple_atoms_beyond_the_receptive_field(coefficients):
    """Without the head, an atom's coefficients depend on its neighbourhood only; with it,
    changing an atom far outside every cutoff moves charge on all the others."""
    cell = np.diag([40.0, 40.0, 40.0])  # bohr; cutoff 4.5 Å = 8.5 bohr, 2 layers
    positions = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [20.0, 20.0, 20.0]])
    for eq, should_move in ((False, False), (True, True)):
        m = _random_model(2, charge_equilibration=eq)
        a = coefficients(m, [14, 6, 14], positions, cell)
        b = coefficients(m, [14, 6, 53], positions, cell)
        moved = np.abs(a[:2] - b[:2]).max()
        assert (moved > 1e-6) == should_move, (eq, moved)


def test_symmetries_hold_with_the_head(triclinic, g_of):
    numbers, positions, cell, miller = triclinic
    m = _random_model(3)
    g = g_of(cell, miller)
    ref = m.delta_rho_g(numbers, positions, cell, g)
    assert np.abs(ref).max() > 1e-4
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    got = m.delta_rho_g(numbers, positions @ q.T, cell @ q.T, g_of(cell @ q.T, miller))
    np.testing.assert_allclose(got, ref, atol=1e-10 * np.abs(ref).max())
    perm = np.array([2, 0, 1])
    np.testing.assert_allclose(
        m.delta_rho_g(numbers[perm], positions[perm], cell, g), ref, atol=1e-13
    )
    assert m.delta_rho_g(numbers, positions, cell, g)[np.all(miller == 0, axis=1)][0] == 0


def test_batched_ensemble_of_such_members_is_their_mean(triclinic, g_of, tmp_path):
    from rhocat.train.checkpoint import checkpoint_dict, load_model, save_checkpoint

    numbers, positions, cell, miller = triclinic
    g = g_of(cell, miller)
    members = [_random_model(s) for s in (4, 5)]
    ens = EnsembleModel.from_members(members, shrink_c=0.0)
    expected = np.mean([m.delta_rho_g(numbers, positions, cell, g) for m in members], axis=0)
    got = ens.predict(numbers, positions, cell, g).delta_rho_g
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    back = load_model(save_checkpoint(tmp_path / "ens.pt", checkpoint_dict(ens)))
    assert back.members[0].config["charge_equilibration"] is True
    np.testing.assert_array_equal(back.delta_rho_g(numbers, positions, cell, g), got)
