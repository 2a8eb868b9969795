"""benchmarks/iodide_charges.py: the charge the reference and the model move onto iodine."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rhocat.models.basis import evaluate_g, l_of_column, monopoles
from rhocat.qe.gvectors import g_cartesian
from tests.benchmarks import shared

# isort: split
import iodide_charges  # benchmarks/ is on the path (tests.benchmarks.shared)

SPEC = shared.small_spec()


def test_the_reference_charges_are_those_of_the_densitys_l0_part():
    cell, pos, miller = shared.two_atom_cell()
    coeffs = np.random.default_rng(4).normal(size=(2, SPEC.size))  # every l on both atoms
    g = torch.as_tensor(g_cartesian(cell, miller))
    vol = abs(np.linalg.det(cell))
    delta = evaluate_g(SPEC, torch.as_tensor(coeffs), torch.as_tensor(pos), g, vol).numpy()
    smp = shared.sample_with_delta(delta, cell, pos, miller, np.array([53, 29]))
    q, ceiling = iodide_charges.reference_charges(SPEC, smp)
    expected = coeffs[:, l_of_column(SPEC) == 0] @ monopoles(SPEC)
    np.testing.assert_allclose(q, expected, rtol=1e-4)
    assert ceiling == pytest.approx(1.0, abs=1e-8)


def _gaussian_pair(q: float):
    """Δρ(G) of +q electrons in a narrow Gaussian on atom 0 and −q on atom 1 of
    :func:`two_atom_cell` (e/bohr³), and the cell."""
    cell, pos, miller = shared.two_atom_cell()
    g = g_cartesian(cell, miller)
    vol = abs(np.linalg.det(cell))
    alpha = 3.0  # bohr⁻²: 99.9% of each Gaussian within 1.6 bohr, half the 3.3 bohr bond
    shape = np.exp(-np.einsum("ij,ij->i", g, g) / (4 * alpha)) / vol
    delta = q * shape * (np.exp(-1j * g @ pos[0]) - np.exp(-1j * g @ pos[1]))
    return shared.sample_with_delta(delta, cell, pos, miller, np.array([53, 29]))


def test_voronoi_charges_find_charge_moved_between_two_atoms():
    smp = _gaussian_pair(0.4)
    q = iodide_charges.voronoi_charges(smp, smp.delta_rho_g)
    assert q[0] == pytest.approx(0.4, abs=0.01) and q[1] == pytest.approx(-0.4, abs=0.01)


def test_voronoi_charges_sum_to_zero_whatever_the_density():
    smp = _gaussian_pair(0.0)
    rng = np.random.default_rng(5)
    noise = rng.normal(size=len(smp.miller)) + 1j * rng.normal(size=len(smp.miller))
    q = iodide_charges.voronoi_charges(smp, noise)
    assert sum(q) == pytest.approx(0.0, abs=1e-10) and max(abs(x) for x in q) > 1e-3


def test_l0_columns_pick_each_atoms_spherical_functions():
    cols = iodide_charges.l0_columns(SPEC, 2)
    assert list(cols) == [0, 1, 2, SPEC.size, SPEC.size + 1, SPEC.size + 2]


@shared.needs_dataset
def test_only_iodides_are_measured_and_the_first_snapshot_names_the_split(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    first = {"_note": ["x"], "train": ["zincblende-AgI"], "val": ["rocksalt-AgAs"]}
    a.write_text(json.dumps(first))
    b.write_text(json.dumps({"val": ["zincblende-RhI", "zincblende-AgI"]}))
    out = tmp_path / "out.json"
    argv = [str(shared.MODEL), str(shared.DATASET), "--snapshot", f"{a},{b}", "-o", str(out)]
    assert iodide_charges.main(argv) == 0
    cells = json.loads(out.read_text())["cells"]
    assert set(cells) == {"zincblende-AgI", "zincblende-RhI"}
    assert cells["zincblende-AgI"]["split"] == "train" and cells["zincblende-RhI"]["split"] == "val"
    rhi = cells["zincblende-RhI"]
    assert rhi["symbols"].count("I") == 1 and len(rhi["q_pred"]) == len(rhi["q_ref"]) == 2
    on_i = [q for q, s in zip(rhi["q_pred"], rhi["symbols"], strict=True) if s == "I"]
    assert rhi["q_pred_on_I"] == pytest.approx(np.mean(on_i))
    assert sum(rhi["q_ref"]) == pytest.approx(0.0, abs=1e-9)
    assert sum(rhi["q_pred"]) == pytest.approx(0.0, abs=1e-9)
    assert 0.9 < rhi["basis_ceiling"] <= 1.0 and rhi["pauling"] == {"Rh": pytest.approx(2.28)}
