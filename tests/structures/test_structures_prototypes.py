"""Prototype geometry: coordination numbers and nearest-neighbour distances (ASE neighbour list)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from rhocat.structures import PROTOTYPES, build, conventional_volume
from rhocat.structures.elements import radius

# Elements for each role: distinct radii so a wrong site assignment would show.
ELEMENTS = {1: ("Cu",), 2: ("Ga", "As"), 3: ("Ni", "Cu", "Ga")}
EXAMPLES = {
    "perovskite": ("Ag", "Ni", "O"),
    "antifluorite": ("Ni", "Si"),
    "rutile": ("Cr", "O"),
    "cuprite": ("Cu", "O"),
    "CdI2": ("Fe", "I"),
    "AlB2": ("Cr", "B"),
    "WC": ("Cr", "C"),
    "D03": ("Fe", "Si"),
    "A15": ("Cr", "Si"),
    "B20": ("Fe", "Si"),
    "delafossite": ("Cu", "Fe", "O"),
    "antiperovskite": ("Fe", "Ni", "N"),
    "inverse-heusler": ("Cr", "Fe", "Ga"),
}


def _elements(name):
    return EXAMPLES.get(name, ELEMENTS[PROTOTYPES[name].n_elements])


def _shell(atoms, index, tol=0.02):
    i, j, d = neighbor_list("ijd", atoms, 8.0)
    mine = i == index
    dmin = d[mine].min()
    return int(np.sum(mine & (d < dmin * (1 + tol)))), float(dmin), j[mine & (d < dmin * (1 + tol))]


@pytest.mark.parametrize("name", list(PROTOTYPES))
def test_space_group(name):
    from rhocat.structures.filters import space_group_number

    expected = {"rutile": 136, "cuprite": 224, "CdI2": 164, "AlB2": 191, "WC": 187, "D03": 225,
                "A15": 223, "B20": 198, "delafossite": 166, "antiperovskite": 221,
                "inverse-heusler": 216, "antifluorite": 225}  # fmt: skip
    if name in expected:
        assert space_group_number(build(name, _elements(name))) == expected[name]


@pytest.mark.parametrize("name", list(PROTOTYPES))
def test_coordination_and_bond_length(name):
    proto = PROTOTYPES[name]
    els = _elements(name)
    atoms = build(name, els)
    assert len(atoms) == proto.n_atoms
    symbols = atoms.get_chemical_symbols()
    for role, (el, cn) in enumerate(zip(els, proto.coordination, strict=True)):
        sites = [k for k, s in enumerate(symbols) if s == el]
        assert len(sites) == proto.counts[role]
        for k in sites:
            n, _, _ = _shell(atoms, k)
            assert n == cn, f"{name}: {el} on role {proto.roles[role]} has CN {n}, expected {cn}"
    # the principal bond equals the sum of the radii of its two roles
    a, b = proto.bond
    target = radius(els[a]) + radius(els[b])
    if proto.kind == "heusler":  # X-Y and X-Z are one shell: the larger sum sets it
        target = max(target, radius(els[0]) + radius(els[2]))
    partners = {els[b], els[2]} if proto.kind == "heusler" else {els[b]}
    i, j, d = neighbor_list("ijd", atoms, target * 1.3)
    pair = [
        dist
        for ii, jj, dist in zip(i, j, d, strict=True)
        if symbols[ii] == els[a] and symbols[jj] in partners
    ]
    assert pair, f"{name}: no {els[a]}-{els[b]} contact"
    if name in ("A15", "antifluorite"):  # cation-cation contacts may set a larger lattice
        assert min(pair) >= target * (1 - 1e-6)
    else:
        assert min(pair) == pytest.approx(target, rel=1e-6)


def test_rocksalt_neighbours_are_the_other_species():
    atoms = build("rocksalt", ("Ga", "N"))
    for k in range(2):
        _, _, js = _shell(atoms, k)
        assert {atoms[j].symbol for j in js} == {"GaN".replace(atoms[k].symbol, "")}


def test_heusler_x_site_sees_four_y_and_four_z():
    atoms = build("heusler", ("Ni", "Cu", "Ga"))
    symbols = atoms.get_chemical_symbols()
    _, _, js = _shell(atoms, symbols.index("Ni"))
    assert sorted(symbols[j] for j in js) == ["Cu"] * 4 + ["Ga"] * 4


@pytest.mark.parametrize("name", list(PROTOTYPES))
def test_conventional_factor_matches_spglib(name):
    atoms = build(name, _elements(name))
    expected = PROTOTYPES[name].conventional_factor * atoms.get_volume()
    assert conventional_volume(atoms) == pytest.approx(expected, rel=1e-6)


def test_fcc_lattice_parameter_from_metallic_radius():
    atoms = build("fcc", ("Cu",))
    a = np.sqrt(2) * np.linalg.norm(atoms.cell[0])  # primitive vector = a/sqrt2
    assert a == pytest.approx(2 * np.sqrt(2) * radius("Cu"))
    assert 3.4 < a < 3.8  # Cu: 3.61 Å measured


def test_wrong_number_of_elements():
    from rhocat.errors import InputError

    with pytest.raises(InputError, match="roles"):
        build("rocksalt", ("Ga",))
    with pytest.raises(InputError, match="unknown prototype"):
        build("spinel", ("Mg", "Al", "O"))
