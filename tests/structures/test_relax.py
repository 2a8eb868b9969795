"""CHGNet relaxation of prototype cells and the convex-hull filter (rhocat.structures.relax)."""

from __future__ import annotations

import numpy as np
import pytest

from rhocat.structures import build
from rhocat.structures.relax import energies_above_hull

pytestmark = pytest.mark.needs_chgnet


@pytest.fixture(scope="module")
def potential():
    from rhocat.structures.relax import load_potential

    return load_potential()


def test_relax_moves_a_radius_guess_to_the_potential_minimum(potential):
    from rhocat.structures.relax import relax_structures

    start = build("CsCl", ("Ni", "Ga"))  # a from metallic radii: 2.99 Å
    (r,) = relax_structures([start], potential=potential)
    a = r.atoms.cell.lengths()
    assert r.converged
    assert np.allclose(a, a[0], atol=1e-3)  # stays cubic
    assert 2.80 < a[0] < 2.95  # CHGNet's NiGa (PBE ~2.90 Å), not the 2.99 Å guess
    assert r.volume_change < -0.02
    assert np.isfinite(r.energy_ev_per_atom) and r.energy_ev_per_atom < -3.0
    assert start.cell.lengths()[0] == pytest.approx(2.9907, abs=1e-3)  # input untouched


def test_molecule_reference_is_bound(potential):
    from rhocat.structures.relax import molecule_reference

    e_o = molecule_reference("O", potential)
    assert -6.0 < e_o < -3.0  # PBE O2: about -4.9 eV/atom in MP's convention


def test_energy_above_hull_of_a_made_up_binary():
    refs = {"A": -1.0, "B": -2.0}
    cells = [
        ({"A": 1, "B": 1}, -2.0),  # formation -0.5 eV/atom: on the hull
        ({"A": 1, "B": 1}, -1.2),  # same composition, 0.8 eV/atom higher
        ({"A": 3, "B": 1}, -1.25),  # the A-B line at x_B = 0.25 is -1.5 + ... see below
    ]
    e = energies_above_hull(cells, refs)
    assert e[0] == pytest.approx(0.0, abs=1e-9)
    assert e[1] == pytest.approx(0.8, abs=1e-9)
    # hull at x_B = 0.25 between A (-1.0) and AB (-2.0 at x_B = 0.5): -1.5
    assert e[2] == pytest.approx(0.25, abs=1e-9)


def test_energy_above_hull_needs_every_reference():
    from rhocat.errors import InputError

    with pytest.raises(InputError, match="no elemental reference energy for B"):
        energies_above_hull([({"A": 1, "B": 1}, -2.0)], {"A": -1.0})
