"""The fast evaluation paths of the basis model equal the plain reference, to round-off."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rhocat.models.basis import (
    BasisSpec,
    evaluate_g,
    evaluate_g_many,
    evaluate_g_reference,
    half_list,
    inversion_partners,
)
from rhocat.models.equivariant import EquivariantBasisModel
from rhocat.qe.gvectors import g_cartesian, miller_indices

SPEC = BasisSpec(l_max=4, n_alpha=4, alpha_min=0.3, ratio=2.2)
CELL = np.array([[6.0, 0.3, 0.1], [0.8, 5.5, -0.2], [0.4, 0.6, 6.4]])  # bohr, triclinic


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _case(n_atoms: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    miller = miller_indices(CELL, 60.0)  # pw.x's list: closed under G -> -G
    g = torch.as_tensor(g_cartesian(CELL, miller))
    pos = torch.as_tensor(rng.uniform(0, 6, size=(n_atoms, 3)))
    coeffs = torch.as_tensor(rng.normal(size=(n_atoms, SPEC.size)))
    return miller, g, pos, coeffs


@pytest.mark.parametrize("n_atoms", [2, 7])  # fewer / more atoms than exponents: both orders
def test_fast_evaluation_equals_reference(n_atoms):
    miller, g, pos, coeffs = _case(n_atoms)
    ref = evaluate_g_reference(SPEC, coeffs, pos, g, 250.0)
    assert ref.abs().max() > 1e-3
    full = evaluate_g(SPEC, coeffs, pos, g, 250.0, chunk=1000)
    partners = inversion_partners(g.numpy(), CELL)
    half = evaluate_g(SPEC, coeffs, pos, g, 250.0, chunk=1000, partners=partners)
    assert _rel(full, ref) < 1e-12
    assert _rel(half, ref) < 1e-12
    assert half[0] == 0  # G = 0 is pw.x's first vector: exactly zero
    # the half path really evaluates each (G, -G) pair once
    reps, _, conj = half_list(partners)
    assert len(reps) == (len(miller) + 1) // 2
    assert conj.sum() == len(miller) // 2


@pytest.mark.parametrize("n_atoms", [2, 7])
def test_many_coefficient_sets_at_once_equal_one_by_one(n_atoms):
    _, g, pos, _ = _case(n_atoms)
    rng = np.random.default_rng(3)
    sets = torch.as_tensor(rng.normal(size=(5, n_atoms, SPEC.size)))
    many = evaluate_g_many(SPEC, sets, pos, g[:300], 250.0)
    assert many.shape == (5, 300)
    for k in range(5):
        one = evaluate_g(SPEC, sets[k], pos, g[:300], 250.0)
        assert one.abs().max() > 1e-3
        assert _rel(many[k], one) < 1e-12
    assert torch.all(many[:, 0] == 0)  # G = 0


def test_inversion_partners_pair_g_with_minus_g():
    miller = miller_indices(CELL, 40.0)
    rng = np.random.default_rng(1)
    order = rng.permutation(len(miller))
    m = miller[order]
    p = inversion_partners(g_cartesian(CELL, m), CELL)
    assert p is not None and (p >= 0).all()
    np.testing.assert_array_equal(m[p], -m)
    # a list that is not closed under inversion: unpaired G are marked -1 and still evaluated
    keep = np.flatnonzero((m[:, 0] >= 0) | (np.arange(len(m)) % 3 == 0))
    sub = m[keep]
    ps = inversion_partners(g_cartesian(CELL, sub), CELL)
    assert (ps == -1).any() and (ps >= 0).any()
    paired = ps >= 0
    np.testing.assert_array_equal(sub[ps[paired]], -sub[paired])
    coeffs = torch.as_tensor(rng.normal(size=(3, SPEC.size)))
    pos = torch.as_tensor(rng.uniform(0, 6, size=(3, 3)))
    g = torch.as_tensor(g_cartesian(CELL, sub))
    ref = evaluate_g_reference(SPEC, coeffs, pos, g, 100.0)
    assert _rel(evaluate_g(SPEC, coeffs, pos, g, 100.0, partners=ps), ref) < 1e-12
    # G vectors of another lattice, or listed twice: no pairing
    assert inversion_partners(g_cartesian(CELL, sub) * 1.01, CELL) is None
    assert inversion_partners(g_cartesian(CELL, np.vstack([sub, sub[:1]])), CELL) is None


def _model(seed=0):
    torch.manual_seed(seed)
    m = EquivariantBasisModel(
        {"hidden_muls": [8, 4, 2], "n_layers": 2, "basis": SPEC.to_dict()}, [6, 14]
    )
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.5)
    return m


def test_model_inference_path_equals_reference_and_restores_threads():
    model = _model()
    numbers = np.array([14, 6, 14])
    pos = np.array([[0.2, 0.1, 0.3], [2.1, 1.8, 1.2], [3.9, 3.1, 4.2]])
    miller = miller_indices(CELL, 50.0)
    g = g_cartesian(CELL, miller)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fast = model.delta_rho_g(numbers, pos, CELL, g)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        coeffs = model.coefficients(torch.as_tensor(numbers), model.graph(pos, CELL))
        ref = evaluate_g_reference(
            model.spec,
            coeffs,
            torch.as_tensor(pos),
            torch.as_tensor(g),
            abs(np.linalg.det(CELL)),
        ).numpy()
    assert np.abs(ref).max() > 1e-4
    assert np.abs(fast - ref).max() < 1e-10 * np.abs(ref).max()
    assert fast.dtype == np.complex128 and fast[0] == 0


def test_training_path_gradients_equal_with_and_without_pairing():
    model = _model(1)
    numbers = torch.as_tensor([14, 6, 14])
    pos = torch.tensor([[0.2, 0.1, 0.3], [2.1, 1.8, 1.2], [3.9, 3.1, 4.2]], dtype=torch.float64)
    cell = torch.as_tensor(CELL)
    g = torch.as_tensor(g_cartesian(CELL, miller_indices(CELL, 30.0)))
    grads, values = [], []
    for partners in ("auto", None):
        model.zero_grad()
        out = model.delta_rho_g_torch(numbers, pos, cell, g, partners=partners)
        (out.real**2 + 0.3 * out.imag**2).sum().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
        values.append(out.detach())
    assert _rel(values[0], values[1]) < 1e-12
    assert grads[1].abs().max() > 0
    assert _rel(grads[0], grads[1]) < 1e-10


@pytest.mark.slow
def test_importing_the_models_does_not_load_torch_dynamo():
    """e3nn is imported without torch._dynamo (seconds of start-up); e3nn still works."""
    code = (
        "import sys, copy\n"
        "import rhocat.models\n"
        "assert 'torch._dynamo' not in sys.modules, 'dynamo loaded at import'\n"
        "from e3nn import o3\n"
        "q = o3._wigner.change_basis_real_to_complex(2)\n"
        "assert q.shape == (5, 5)\n"
        "from rhocat.models import EquivariantBasisModel\n"
        "m = EquivariantBasisModel({'hidden_muls': [4, 2], 'n_layers': 1}, [14])\n"
        "copy.deepcopy(m)  # loads torch._dynamo on demand\n"
        "print('ok')\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
