"""The generator: rules, filters, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from rhocat.errors import InputError
from rhocat.structures import (
    enumerate_candidates,
    generate_candidates,
    rare_oxidation_states,
    too_close,
)
from rhocat.structures.candidate import guess_oxidation_states, make_candidate
from rhocat.structures.filters import conventional_volume

DEMO = "B C N O Si Ge Ga As Cr Fe Ni Cu Rh Ag".split()


def test_gan_rules():
    ids = {c.id for c in generate_candidates(["Ga", "N"])}
    assert {"fcc-Ga", "rocksalt-GaN", "zincblende-GaN", "wurtzite-GaN"} <= ids
    assert not any(i.endswith("-N") for i in ids)  # nitrogen is a gas: no unary
    assert not any(i.startswith(("CsCl", "L12", "L10")) for i in ids)  # N is no metal


def test_intermetallic_rules():
    ids = {c.id for c in generate_candidates(["Cu", "Ni"])}
    assert "CsCl-CuNi" in ids and "L12-CuNi3" in ids and "L12-NiCu3" in ids
    assert not any(i.startswith(("rocksalt", "zincblende", "fluorite")) for i in ids)


def test_no_rules_tries_everything():
    ruled = generate_candidates(["Cu", "Ni"], prototypes=["rocksalt", "fcc", "bcc"])
    free = generate_candidates(["Cu", "Ni"], prototypes=["rocksalt", "fcc", "bcc"], rules=False)
    assert {c.id for c in ruled} == {"fcc-Cu", "fcc-Ni"}
    assert {c.id for c in free} == {"fcc-Cu", "fcc-Ni", "bcc-Cu", "bcc-Ni", "rocksalt-CuNi"}


def test_candidate_metadata():
    c = {c.id: c for c in generate_candidates(["Ga", "N"])}["rocksalt-GaN"]
    assert c.prototype == "rocksalt" and c.formula == "GaN" and c.elements == ("Ga", "N")
    assert c.oxidation_states == {"Ga": 3.0, "N": -3.0}
    assert c.species == ("Ga3+", "N3-")
    assert c.n_atoms == 2
    assert c.meta["conventional_volume_A3"] == pytest.approx(conventional_volume(c.atoms))


def test_deterministic_and_stable_ids():
    a = generate_candidates(["Cu", "Ni", "Ga", "As"])
    b = generate_candidates(["As", "Ga", "Ni", "Cu", "Cu"])
    assert [c.id for c in a] == [c.id for c in b]
    for x, y in zip(a, b, strict=True):
        assert np.allclose(x.atoms.cell, y.atoms.cell) and np.allclose(
            x.atoms.positions, y.atoms.positions
        )
    assert len({c.id for c in a}) == len(a)


def test_filters_max_atoms_and_volume():
    gen = enumerate_candidates(["Ga", "As", "Ni"], max_atoms=2, max_volume=None)
    assert gen.candidates and all(c.n_atoms <= 2 for c in gen.candidates)
    assert any("max_atoms=2" in r["reason"] for r in gen.rejected)
    gen = enumerate_candidates(["Ga", "As", "Ni"], max_atoms=None, max_volume=50.0)
    assert all(conventional_volume(c.atoms) <= 50.0 + 1e-6 for c in gen.candidates)
    rejected = {r["id"] for r in gen.rejected}
    assert "zincblende-GaAs" in rejected  # conventional 8-atom cell of ~192 Å³


def test_paper_volume_filter_uses_conventional_cell():
    # rocksalt GaAs: primitive 31 Å³, conventional 4x that: a 40 Å³ limit must reject it
    gen = enumerate_candidates(["Ga", "As"], prototypes=["rocksalt"], max_volume=40.0)
    assert not gen.candidates
    assert "conventional cell" in gen.rejected[0]["reason"]


def test_too_close_rejects_squeezed_cell():
    atoms = generate_candidates(["Cu"])[0].atoms
    assert too_close(atoms) is None
    squeezed = atoms.copy()
    squeezed.set_cell(atoms.cell * 0.7, scale_atoms=True)
    msg = too_close(squeezed)
    assert msg is not None and "Cu-Cu" in msg


def test_min_distance_ratio_prunes_bad_radius_ratios():
    # CsCl with a big cation and a tiny anion: anion-free Ag-Ag contacts get too short
    loose = enumerate_candidates(["Ag", "B"], prototypes=["CsCl"], min_distance_ratio=0.5)
    strict = enumerate_candidates(["Ag", "B"], prototypes=["CsCl"], min_distance_ratio=0.95)
    assert [c.id for c in loose.candidates] == ["CsCl-AgB"]
    assert not strict.candidates and "too close" in strict.rejected[0]["reason"]


def test_max_per_system():
    cands = generate_candidates(["Ga", "N", "As"], max_per_system=1)
    systems = [c.elements for c in cands]
    assert len(systems) == len(set(systems))


@pytest.mark.parametrize(
    "elements, match",
    [
        (["Cu", "Xx"], "unknown element"),
        (["cu"], "unknown element"),
        ([], "empty element list"),
        ("", "empty element list"),
    ],
)
def test_bad_elements(elements, match):
    with pytest.raises(InputError, match=match):
        generate_candidates(elements)


def test_bad_prototype_and_limits():
    with pytest.raises(InputError, match="unknown prototype"):
        generate_candidates(["Cu"], prototypes=["nonsense"])
    with pytest.raises(InputError, match="max_atoms"):
        generate_candidates(["Cu"], max_atoms=0)
    with pytest.raises(InputError, match="max_volume"):
        generate_candidates(["Cu"], max_volume=-1)


def test_oxidation_guesses():
    assert guess_oxidation_states("GaN") == {"Ga": 3.0, "N": -3.0}
    assert guess_oxidation_states("NiAl") == {"Ni": 0.0, "Al": 0.0}  # metallic: no guess
    assert guess_oxidation_states("Cu") == {"Cu": 0.0}
    assert guess_oxidation_states("Ga2N2") == guess_oxidation_states("GaN")


def test_rare_oxidation_states_dropped():
    from ase.build import bulk

    cands = [
        make_candidate("a-CuO", "rocksalt", bulk("CuO", "rocksalt", a=4.2)),
        make_candidate("b-CuO", "zincblende", bulk("CuO", "zincblende", a=4.6)),
        make_candidate("c-Cu2O", "fluorite", bulk("OCu2", "fluorite", a=4.3)),
    ]
    kept, dropped = rare_oxidation_states(cands)
    assert [c.id for c in kept] == ["a-CuO", "b-CuO"]  # Cu2+ and O2- occur twice
    assert dropped[0][0].id == "c-Cu2O" and "Cu1+" in dropped[0][1]


def test_demo_elements_sensible():
    """The demo's elements (its speed: ``benchmarks/candidates_speed.py``)."""
    gen = enumerate_candidates(DEMO)
    by_n = {n: [c for c in gen.candidates if c.n_elements == n] for n in (1, 2, 3)}
    assert len(by_n[1]) == 12  # every element but N and O
    assert by_n[2] and by_n[3]
    assert all(c.n_atoms <= 12 for c in gen.candidates)
