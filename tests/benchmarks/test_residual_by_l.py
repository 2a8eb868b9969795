"""benchmarks/residual_by_l.py: where a residual density sits, by l and by atom."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from rhocat.data.sample import DensitySample
from rhocat.models.basis import evaluate_g, l_of_column, monopoles
from rhocat.qe.gvectors import g_cartesian
from tests.benchmarks.shared import (
    DATASET,
    MODEL,
    needs_dataset,
    sample_with_delta,
    small_spec,
    two_atom_cell,
)

# isort: split
import residual_by_l  # benchmarks/ is on the path (tests.benchmarks.shared)
from basis_oracle import fit_coefficients, hartree_normal, hartree_weight, share_removed

SPEC = small_spec()
NUMBERS = np.array([53, 29])  # I and Cu


def _sample(delta_g, cell, pos, miller) -> DensitySample:
    return sample_with_delta(delta_g, cell, pos, miller, NUMBERS)


def _density(cell, pos, miller, keep) -> np.ndarray:
    """Δρ(G) of random coefficients, zero outside the (atom, column) pairs where ``keep``."""
    coeffs = np.random.default_rng(0).normal(size=(2, SPEC.size)) * keep
    g = torch.as_tensor(g_cartesian(cell, miller))
    vol = abs(np.linalg.det(cell))
    return evaluate_g(SPEC, torch.as_tensor(coeffs), torch.as_tensor(pos), g, vol).numpy()


def _shares(keep) -> dict[str, float]:
    cell, pos, miller = two_atom_cell()
    smp = _sample(_density(cell, pos, miller, keep), cell, pos, miller)
    normal, rhs, total = hartree_normal(smp, SPEC)
    assert total == pytest.approx(hartree_weight(smp, smp.delta_rho_g), rel=1e-12)
    cols = residual_by_l.subset_columns(SPEC, NUMBERS)
    return {name: share_removed(normal, rhs, total, c) for name, c in cols.items()}


def test_a_spherical_density_on_iodine_is_found_in_iodines_l0_columns():
    l_col = l_of_column(SPEC)
    keep = np.zeros((2, SPEC.size))
    keep[0, l_col == 0] = 1.0  # l = 0 on the iodine atom only
    f = _shares(keep)
    for name in ("l0", "l0_I", "le1", "le2", "all"):
        assert f[name] == pytest.approx(1.0, abs=1e-6), name
    assert f["l0_other"] < 0.9  # Cu's spheres cannot stand in for iodine's


def test_the_spherical_fit_returns_the_charge_on_each_atom():
    cell, pos, miller = two_atom_cell()
    l_col = l_of_column(SPEC)
    coeffs = np.zeros((2, SPEC.size))
    coeffs[0, l_col == 0] = [0.3, -0.2, 0.5]  # iodine gains, Cu loses half of it
    coeffs[1, l_col == 0] = [-0.1, 0.05, -0.2]
    g = torch.as_tensor(g_cartesian(cell, miller))
    vol = abs(np.linalg.det(cell))
    delta = evaluate_g(SPEC, torch.as_tensor(coeffs), torch.as_tensor(pos), g, vol).numpy()
    normal, rhs, _ = hartree_normal(_sample(delta, cell, pos, miller), SPEC)
    cols = residual_by_l.subset_columns(SPEC, NUMBERS)["l0"]
    q = residual_by_l.atom_charges(SPEC, fit_coefficients(normal, rhs, cols).numpy())
    expected = coeffs[:, l_col == 0] @ monopoles(SPEC)
    np.testing.assert_allclose(q, expected, rtol=1e-5)
    assert q[0] > 0 > q[1]


def test_an_l2_density_is_not_spherical():
    l_col = l_of_column(SPEC)
    keep = np.zeros((2, SPEC.size))
    keep[:, l_col == 2] = 1.0
    f = _shares(keep)
    assert f["le2"] == pytest.approx(1.0, abs=1e-6)
    # Spheres on either atom remove almost none of it (l = 1 on the other atom can remove
    # about half: two centres' columns are not orthogonal, so only l0 is read as "spherical").
    assert f["l0"] < 0.1
    assert f["l0_I"] <= f["l0"] + 1e-12 and f["l0_other"] <= f["l0"] + 1e-12


def test_pooling_weighs_each_structure_by_its_missing_energy():
    rows = [{"e_residual": 3.0, "l0": 1.0, "le1": 1.0}, {"e_residual": 1.0, "l0": 0.0, "le1": 0.5}]
    pooled = residual_by_l.pooled(rows)
    assert pooled["l0"] == pytest.approx(0.75)
    assert pooled["le1"] == pytest.approx(0.875)
    assert pooled["n"] == 2 and "l0_I" not in pooled


@needs_dataset
def test_on_a_dataset_cell_the_residual_is_the_one_the_captured_share_counts(tmp_path):
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps({"train": [], "val": ["zincblende-RhI"], "test_binary": []}))
    out = tmp_path / "out.json"
    argv = [str(MODEL), str(DATASET), "--snapshot", str(snap), "-o", str(out)]
    assert residual_by_l.main(argv) == 0
    res = json.loads(out.read_text())
    cell = res["cells"]["zincblende-RhI"]
    assert cell["group"] == "val"
    # The shipped model's captured share of this cell, as shrink_curve.py counts it (c = 1).
    curve = json.loads(
        (DATASET.parents[1] / "results_shrink_curve_val206_pairradial16000.json").read_text()
    )
    (ref,) = [c for c in curve["at_c"]["1.0"]["cells"]["val"] if c["id"] == "zincblende-RhI"]
    assert cell["captured_pct"] == pytest.approx(ref["captured_pct"], abs=1e-6)
    assert cell["shrink"] == pytest.approx(1.0 / (1.0 + cell["u"] ** 2))
    shares = [cell[k] for k in ("l0", "le1", "le2", "all")]
    assert all(0.0 <= a <= b + 1e-9 <= 1.0 + 1e-9 for a, b in itertools.pairwise(shares))
    assert cell["l0_I"] <= cell["l0"] + 1e-9 and cell["l0_other"] <= cell["l0"] + 1e-9
    assert res["summary"]["val"]["l0"] == pytest.approx(cell["l0"])
    assert len(cell["q_l0_e"]) == 2  # one charge per atom of the cell
