"""Crystal prototypes: primitive cells whose lattice parameter is set from element radii.

Each prototype has named sites ("roles"); a candidate assigns one element to
each role. The lattice parameter is chosen so that the prototype's principal
bond (the nearest-neighbour contact listed in :attr:`Prototype.bond`) equals
the sum of the two elements' radii (:func:`rhocat.structures.elements.radius`,
Å). Other contacts are not adjusted: a cell in which they come too close is
rejected by the generator (see :func:`rhocat.structures.filters.too_close`).

All cells are primitive (1-5 atoms) so that DFT stays cheap; lengths in Å.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from rhocat.errors import InputError
from rhocat.structures.elements import radius

SQ2 = np.sqrt(2.0)
SQ3 = np.sqrt(3.0)
#: c/a of NiAs itself (5.03 Å / 3.62 Å).
NIAS_C_OVER_A = 1.39
#: Ideal hexagonal close packing c/a.
HCP_C_OVER_A = np.sqrt(8.0 / 3.0)


@dataclass(frozen=True)
class Prototype:
    """A crystal prototype.

    Attributes:
        name: id used in candidate ids (``rocksalt``, ``heusler``, ...).
        roles: site names, e.g. ``("A", "B")``; a candidate puts one element on each.
        counts: atoms of each role in the primitive cell.
        kind: ``unary``, ``ionic`` (A cation, B anion), ``metallic`` (intermetallic),
            ``perovskite`` (A, B cations, X anion) or ``heusler`` (X, Y metals, Z p-block).
        symmetric: groups of role indices that are interchangeable by symmetry
            (only one ordering of their elements is generated).
        bond: the two roles whose contact sets the lattice parameter (Heuslers: X
            with Y or Z, whichever sum of radii is larger; both contacts are one shell).
        coordination: number of nearest neighbours of each role (geometry check).
        description: structure type and space group.
        build: function (elements in role order) -> primitive ``ase.Atoms``.
        conventional_factor: volume of spglib's conventional cell / primitive volume.
    """

    name: str
    roles: tuple[str, ...]
    counts: tuple[int, ...]
    kind: str
    symmetric: tuple[tuple[int, ...], ...]
    bond: tuple[int, int]
    coordination: tuple[int, ...]
    description: str
    build: Callable[[tuple[str, ...]], Atoms]
    conventional_factor: int = 1

    @property
    def n_elements(self) -> int:
        return len(self.roles)

    @property
    def n_atoms(self) -> int:
        return int(sum(self.counts))


def _fcc_cell(a: float) -> np.ndarray:
    return 0.5 * a * np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])


def _bcc_cell(a: float) -> np.ndarray:
    return 0.5 * a * np.array([[-1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])


def _hex_cell(a: float, c: float) -> np.ndarray:
    return np.array([[a, 0.0, 0.0], [-0.5 * a, 0.5 * SQ3 * a, 0.0], [0.0, 0.0, c]])


def _cartesian(symbols: list[str], cell: np.ndarray, cart: list) -> Atoms:
    return Atoms(symbols=symbols, positions=np.array(cart, float), cell=cell, pbc=True)


def _scaled(symbols: list[str], cell: np.ndarray, frac: list) -> Atoms:
    return Atoms(symbols=symbols, scaled_positions=np.array(frac, float), cell=cell, pbc=True)


def _pair(e: tuple[str, ...], i: int = 0, j: int = 1) -> float:
    return radius(e[i]) + radius(e[j])


# --- unaries -----------------------------------------------------------------


def _fcc(e):  # nn = a/sqrt2 = 2r
    a = SQ2 * _pair(e * 2)
    return _cartesian([e[0]], _fcc_cell(a), [[0, 0, 0]])


def _bcc(e):  # nn = a sqrt3/2 = 2r
    a = 2.0 * _pair(e * 2) / SQ3
    return _cartesian([e[0]], _bcc_cell(a), [[0, 0, 0]])


def _hcp(e):  # nn = a = 2r, ideal c/a
    a = _pair(e * 2)
    frac = [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]
    return _scaled([e[0]] * 2, _hex_cell(a, HCP_C_OVER_A * a), frac)


def _diamond(e):  # nn = a sqrt3/4 = 2r
    a = 4.0 * _pair(e * 2) / SQ3
    return _cartesian([e[0]] * 2, _fcc_cell(a), [[0, 0, 0], [a / 4, a / 4, a / 4]])


def _sc(e):  # nn = a = 2r
    a = _pair(e * 2)
    return _cartesian([e[0]], np.eye(3) * a, [[0, 0, 0]])


# --- binaries ----------------------------------------------------------------


def _rocksalt(e):  # A-B = a/2
    a = 2.0 * _pair(e)
    return _cartesian(list(e), _fcc_cell(a), [[0, 0, 0], [a / 2, 0, 0]])


def _cscl(e):  # A-B = a sqrt3/2
    a = 2.0 * _pair(e) / SQ3
    return _scaled(list(e), np.eye(3) * a, [[0, 0, 0], [0.5, 0.5, 0.5]])


def _zincblende(e):  # A-B = a sqrt3/4
    a = 4.0 * _pair(e) / SQ3
    return _cartesian(list(e), _fcc_cell(a), [[0, 0, 0], [a / 4, a / 4, a / 4]])


def _wurtzite(e):  # ideal: c/a = sqrt(8/3), u = 3/8, A-B = u c
    u = 3.0 / 8.0
    c = _pair(e) / u
    a = c / HCP_C_OVER_A
    frac = [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, u], [2 / 3, 1 / 3, 0.5 + u]]
    return _scaled([e[0], e[0], e[1], e[1]], _hex_cell(a, c), frac)


def _nias(e):  # A octahedral, B trigonal prismatic; A-B = sqrt(a^2/3 + c^2/16)
    ratio = NIAS_C_OVER_A
    a = _pair(e) / np.sqrt(1.0 / 3.0 + ratio**2 / 16.0)
    frac = [[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]
    return _scaled([e[0], e[0], e[1], e[1]], _hex_cell(a, ratio * a), frac)


def _fluorite(e):  # AB2, A fcc, B tetrahedral; A-B = a sqrt3/4
    a = 4.0 * _pair(e) / SQ3
    cart = [[0, 0, 0], [a / 4, a / 4, a / 4], [3 * a / 4, 3 * a / 4, 3 * a / 4]]
    return _cartesian([e[0], e[1], e[1]], _fcc_cell(a), cart)


def _l12(e):  # AB3 (Cu3Au type): A corner, B face centres; A-B = a/sqrt2
    a = SQ2 * _pair(e)
    frac = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
    return _scaled([e[0], e[1], e[1], e[1]], np.eye(3) * a, frac)


def _l10(e):  # AB (CuAu type), primitive tetragonal with ideal c = sqrt2 a; A-B = a
    a = _pair(e)
    cell = np.diag([a, a, SQ2 * a])
    return _scaled(list(e), cell, [[0, 0, 0], [0.5, 0.5, 0.5]])


# --- ternaries ---------------------------------------------------------------


def _perovskite(e):  # ABX3 cubic: B at origin, A at body centre, X on edges; B-X = a/2
    a = 2.0 * _pair(e, 1, 2)
    frac = [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]]
    return _scaled([e[0], e[1], e[2], e[2], e[2]], np.eye(3) * a, frac)


def _heusler(e):  # X2YZ (L2_1): Y 4a, Z 4b, X 8c; X-Y = X-Z = a sqrt3/4
    a = 4.0 * max(_pair(e, 0, 1), _pair(e, 0, 2)) / SQ3
    cart = np.array([[0.25, 0.25, 0.25], [0.75, 0.75, 0.75], [0, 0, 0], [0.5, 0.5, 0.5]]) * a
    return _cartesian([e[0], e[0], e[1], e[2]], _fcc_cell(a), cart)


def _half_heusler(e):  # XYZ (C1_b): X 4c (tetrahedral, between Y and Z), Y 4a, Z 4b
    a = 4.0 * max(_pair(e, 0, 1), _pair(e, 0, 2)) / SQ3
    cart = np.array([[0.25, 0.25, 0.25], [0, 0, 0], [0.5, 0.5, 0.5]]) * a
    return _cartesian(list(e), _fcc_cell(a), cart)


#: Conventional/primitive volume: 4 for face-centred lattices, 2 for body-centred.
_FACTOR = {"fcc": 4, "bcc": 2, "diamond": 4, "rocksalt": 4, "zincblende": 4, "fluorite": 4,
           "heusler": 4, "half-heusler": 4}  # fmt: skip


def _p(name, roles, counts, kind, symmetric, bond, coordination, description, build):
    factor = _FACTOR.get(name, 1)
    return Prototype(
        name, roles, counts, kind, symmetric, bond, coordination, description, build, factor
    )


#: All prototypes, in the order candidates are generated (and preferred).
PROTOTYPES: dict[str, Prototype] = {
    p.name: p
    for p in [
        _p("fcc", ("A",), (1,), "unary", (), (0, 0), (12,), "fcc, Fm-3m (Cu)", _fcc),
        _p("bcc", ("A",), (1,), "unary", (), (0, 0), (8,), "bcc, Im-3m (W)", _bcc),
        _p("hcp", ("A",), (2,), "unary", (), (0, 0), (12,), "hcp, P6_3/mmc (Mg)", _hcp),
        _p("diamond", ("A",), (2,), "unary", (), (0, 0), (4,), "diamond, Fd-3m (Si)", _diamond),
        _p("sc", ("A",), (1,), "unary", (), (0, 0), (6,), "simple cubic, Pm-3m (Po)", _sc),
        _p(
            "rocksalt",
            ("A", "B"),
            (1, 1),
            "ionic",
            ((0, 1),),
            (0, 1),
            (6, 6),
            "B1, Fm-3m (NaCl)",
            _rocksalt,
        ),
        _p(
            "zincblende",
            ("A", "B"),
            (1, 1),
            "ionic",
            ((0, 1),),
            (0, 1),
            (4, 4),
            "B3, F-43m (ZnS)",
            _zincblende,
        ),
        _p(
            "wurtzite",
            ("A", "B"),
            (2, 2),
            "ionic",
            ((0, 1),),
            (0, 1),
            (4, 4),
            "B4, P6_3mc (ZnO)",
            _wurtzite,
        ),
        _p(
            "nickeline",
            ("A", "B"),
            (2, 2),
            "ionic",
            (),
            (0, 1),
            (6, 6),
            "B8_1, P6_3/mmc (NiAs)",
            _nias,
        ),
        _p(
            "fluorite",
            ("A", "B"),
            (1, 2),
            "ionic",
            (),
            (0, 1),
            (8, 4),
            "C1, Fm-3m (CaF2)",
            _fluorite,
        ),
        _p(
            "CsCl",
            ("A", "B"),
            (1, 1),
            "metallic",
            ((0, 1),),
            (0, 1),
            (8, 8),
            "B2, Pm-3m (CsCl, NiAl)",
            _cscl,
        ),
        _p(
            "L12",
            ("A", "B"),
            (1, 3),
            "metallic",
            (),
            (0, 1),
            (12, 12),
            "L1_2, Pm-3m (Cu3Au; A the minority)",
            _l12,
        ),
        _p(
            "L10",
            ("A", "B"),
            (1, 1),
            "metallic",
            ((0, 1),),
            (0, 1),
            (12, 12),
            "L1_0, P4/mmm (CuAu)",
            _l10,
        ),
        _p(
            "perovskite",
            ("A", "B", "X"),
            (1, 1, 3),
            "perovskite",
            (),
            (1, 2),
            (12, 6, 2),
            "E2_1, Pm-3m (SrTiO3)",
            _perovskite,
        ),
        _p(
            "heusler",
            ("X", "Y", "Z"),
            (2, 1, 1),
            "heusler",
            ((1, 2),),
            (0, 1),
            (8, 8, 8),
            "L2_1, Fm-3m (Cu2MnAl)",
            _heusler,
        ),
        _p(
            "half-heusler",
            ("X", "Y", "Z"),
            (1, 1, 1),
            "heusler",
            ((1, 2),),
            (0, 1),
            (8, 4, 4),
            "C1_b, F-43m (MgAgAs)",
            _half_heusler,
        ),
    ]
}


def get_prototype(name: str) -> Prototype:
    """The prototype called ``name``; :class:`InputError` listing the known ones otherwise."""
    try:
        return PROTOTYPES[name]
    except KeyError:
        known = ", ".join(PROTOTYPES)
        raise InputError(f"unknown prototype {name!r}; known prototypes: {known}") from None


def build(prototype: str | Prototype, elements: tuple[str, ...]) -> Atoms:
    """Primitive cell of ``prototype`` with ``elements`` on its roles (in role order), Å."""
    proto = get_prototype(prototype) if isinstance(prototype, str) else prototype
    if len(elements) != proto.n_elements:
        raise InputError(
            f"prototype {proto.name} has {proto.n_elements} roles {proto.roles}, got {elements}"
        )
    return proto.build(tuple(elements))
