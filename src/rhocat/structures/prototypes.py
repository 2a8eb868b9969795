"""Crystal prototypes: primitive cells whose lattice parameter is set from element radii.

Each prototype has named sites ("roles"); a candidate assigns one element to
each role. The lattice parameter is chosen so that the prototype's principal
bond (the nearest-neighbour contact listed in :attr:`Prototype.bond`) equals
the sum of the two elements' radii (:func:`rhocat.structures.elements.radius`,
Å). Other contacts are not adjusted: a cell in which they come too close is
rejected by the generator (see :func:`rhocat.structures.filters.too_close`).

All cells are primitive (1-8 atoms) so that DFT stays cheap; lengths in Å.
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


# --- more binaries for the benchmark dataset: borides, carbides, nitrides, oxides, silicides ---


#: Cation-cation contacts of antifluorite and A15 kept at this share of 2 r_A.
CATION_CONTACT = 0.9


def _antifluorite(e):  # A2B (Li2O): B fcc, A tetrahedral; A-B = a sqrt3/4, A-A = a/2
    a = max(4.0 * _pair(e) / SQ3, 2.0 * CATION_CONTACT * _pair(e, 0, 0))
    cart = [[a / 4, a / 4, a / 4], [3 * a / 4, 3 * a / 4, 3 * a / 4], [0, 0, 0]]
    return _cartesian([e[0], e[0], e[1]], _fcc_cell(a), cart)


#: Rutile (TiO2): c/a and the anion parameter u.
RUTILE_C_OVER_A, RUTILE_U = 0.644, 0.305


def _rutile(e):  # AB2, P4_2/mnm; equatorial A-B = sqrt(2 (1/2 - u)^2 + (c/2a)^2) a, apical +2%
    a = _pair(e) / np.sqrt(2.0 * (0.5 - RUTILE_U) ** 2 + (RUTILE_C_OVER_A / 2.0) ** 2)
    u = RUTILE_U
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [u, u, 0], [1 - u, 1 - u, 0],
            [0.5 + u, 0.5 - u, 0.5], [0.5 - u, 0.5 + u, 0.5]]  # fmt: skip
    return _scaled([e[0]] * 2 + [e[1]] * 4, np.diag([a, a, RUTILE_C_OVER_A * a]), frac)


def _cuprite(e):  # A2B (Cu2O), Pn-3m: B bcc, A linear between two B; A-B = a sqrt3/4
    a = 4.0 * _pair(e) / SQ3
    frac = [[0.25, 0.25, 0.25], [0.75, 0.75, 0.25], [0.75, 0.25, 0.75], [0.25, 0.75, 0.75],
            [0, 0, 0], [0.5, 0.5, 0.5]]  # fmt: skip
    return _scaled([e[0]] * 4 + [e[1]] * 2, np.eye(3) * a, frac)


#: CdI2: c/a and the anion height z.
CDI2_C_OVER_A, CDI2_Z = 1.6, 0.25


def _cdi2(e):  # AB2 layered, P-3m1; A-B = sqrt(a^2/3 + (z c)^2)
    a = _pair(e) / np.sqrt(1.0 / 3.0 + (CDI2_Z * CDI2_C_OVER_A) ** 2)
    frac = [[0, 0, 0], [1 / 3, 2 / 3, CDI2_Z], [2 / 3, 1 / 3, -CDI2_Z]]
    return _scaled([e[0], e[1], e[1]], _hex_cell(a, CDI2_C_OVER_A * a), frac)


#: AlB2: c/a.
ALB2_C_OVER_A = 1.08


def _alb2(e):  # AB2, P6/mmm, B graphite-like layers; A-B = sqrt(a^2/3 + c^2/4)
    a = _pair(e) / np.sqrt(1.0 / 3.0 + ALB2_C_OVER_A**2 / 4.0)
    frac = [[0, 0, 0], [1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]]
    return _scaled([e[0], e[1], e[1]], _hex_cell(a, ALB2_C_OVER_A * a), frac)


#: WC: c/a.
WC_C_OVER_A = 0.976


def _wc(e):  # AB, P-6m2; A-B = sqrt(a^2/3 + c^2/4)
    a = _pair(e) / np.sqrt(1.0 / 3.0 + WC_C_OVER_A**2 / 4.0)
    frac = [[0, 0, 0], [1 / 3, 2 / 3, 0.5]]
    return _scaled(list(e), _hex_cell(a, WC_C_OVER_A * a), frac)


def _d03(e):  # A3B (Fe3Al, BiF3), fcc: B 4a, A 4b + 8c; A-B = a sqrt3/4
    a = 4.0 * _pair(e) / SQ3
    cart = np.array([[0.25, 0.25, 0.25], [0.75, 0.75, 0.75], [0.5, 0.5, 0.5], [0, 0, 0]]) * a
    return _cartesian([e[0]] * 3 + [e[1]], _fcc_cell(a), cart)


def _a15(e):  # A3B (Cr3Si), Pm-3n: B bcc, A chains on the faces; A-B = a sqrt5/4, A-A = a/2
    a = max(4.0 * _pair(e) / np.sqrt(5.0), 2.0 * CATION_CONTACT * _pair(e, 0, 0))
    frac = [[0.25, 0, 0.5], [0.75, 0, 0.5], [0.5, 0.25, 0], [0.5, 0.75, 0], [0, 0.5, 0.25],
            [0, 0.5, 0.75], [0, 0, 0], [0.5, 0.5, 0.5]]  # fmt: skip
    return _scaled([e[0]] * 6 + [e[1]] * 2, np.eye(3) * a, frac)


#: B20 (FeSi): internal parameters of the two 4a sites (x, x, x).
B20_U, B20_V = 0.1358, 0.844


def _b20_sites(x: float) -> list[list[float]]:
    return [[x, x, x], [0.5 + x, 0.5 - x, -x], [-x, 0.5 + x, 0.5 - x], [0.5 - x, -x, 0.5 + x]]


def _b20(e):  # AB (FeSi), P2_13, 8 atoms; the shortest A-B contact is scaled to r_A + r_B
    frac = _b20_sites(B20_U) + _b20_sites(B20_V)
    atoms = _scaled([e[0]] * 4 + [e[1]] * 4, np.eye(3), frac)
    shortest = min(atoms.get_distances(0, list(range(4, 8)), mic=True))
    atoms.set_cell(np.eye(3) * (_pair(e) / shortest), scale_atoms=True)
    return atoms


# --- more ternaries ----------------------------------------------------------------------------

#: Delafossite (CuFeO2): hexagonal c/a and the anion height z.
DELAFOSSITE_C_OVER_A, DELAFOSSITE_Z = 17.17 / 3.035, 0.1066


def _delafossite(e):  # ABX2, R-3m, rhombohedral primitive: A linear X-A-X (A-X = z c)
    c = _pair(e, 0, 2) / DELAFOSSITE_Z
    a = c / DELAFOSSITE_C_OVER_A
    r = a / SQ3
    cell = np.array([[a / 2, -r / 2, c / 3], [0.0, r, c / 3], [-a / 2, -r / 2, c / 3]])
    z = DELAFOSSITE_Z
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [z, z, z], [-z, -z, -z]]
    return _scaled([e[0], e[1], e[2], e[2]], cell, frac)


def _antiperovskite(e):  # M3AX (Fe3NiN, Mn3GaN): A corner, X body centre, M faces; M-X = a/2
    a = 2.0 * _pair(e, 0, 2)
    frac = [[0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5], [0, 0, 0], [0.5, 0.5, 0.5]]
    return _scaled([e[0]] * 3 + [e[1], e[2]], np.eye(3) * a, frac)


def _inverse_heusler(e):  # X2YZ (Hg2CuTi, XA): X 4a + 4c, Y 4b, Z 4d; X-Y = a sqrt3/4
    a = 4.0 * max(_pair(e, 0, 1), _pair(e, 0, 2)) / SQ3
    cart = np.array([[0, 0, 0], [0.25, 0.25, 0.25], [0.5, 0.5, 0.5], [0.75, 0.75, 0.75]]) * a
    return _cartesian([e[0], e[0], e[1], e[2]], _fcc_cell(a), cart)


#: Conventional/primitive volume: 4 for face-centred lattices, 2 for body-centred.
_FACTOR = {"fcc": 4, "bcc": 2, "diamond": 4, "rocksalt": 4, "zincblende": 4, "fluorite": 4,
           "heusler": 4, "half-heusler": 4, "antifluorite": 4, "D03": 4,
           "inverse-heusler": 4, "delafossite": 3}  # fmt: skip


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
        _p(
            "antifluorite",
            ("A", "B"),
            (2, 1),
            "ionic",
            (),
            (0, 1),
            (4, 8),
            "C1 anti, Fm-3m (Li2O, Mg2Si)",
            _antifluorite,
        ),
        _p(
            "rutile",
            ("A", "B"),
            (2, 4),
            "ionic",
            (),
            (0, 1),
            (6, 3),
            "C4, P4_2/mnm (TiO2)",
            _rutile,
        ),
        _p(
            "cuprite", ("A", "B"), (4, 2), "ionic", (), (0, 1), (2, 4), "C3, Pn-3m (Cu2O)", _cuprite
        ),
        _p("CdI2", ("A", "B"), (1, 2), "ionic", (), (0, 1), (6, 3), "C6, P-3m1 (CdI2)", _cdi2),
        _p(
            "AlB2",
            ("A", "B"),
            (1, 2),
            "boride",
            (),
            (0, 1),
            (12, 3),
            "C32, P6/mmm (AlB2, CrB2)",
            _alb2,
        ),
        _p("WC", ("A", "B"), (1, 1), "interstitial", (), (0, 1), (6, 6), "B_h, P-6m2 (WC)", _wc),
        _p(
            "D03",
            ("A", "B"),
            (3, 1),
            "metallic",
            (),
            (0, 1),
            (8, 8),
            "D0_3, Fm-3m (Fe3Al, BiF3)",
            _d03,
        ),
        _p("A15", ("A", "B"), (6, 2), "metallic", (), (0, 1), (2, 12), "A15, Pm-3n (Cr3Si)", _a15),
        _p("B20", ("A", "B"), (4, 4), "silicide", (), (0, 1), (1, 1), "B20, P2_13 (FeSi)", _b20),
        _p(
            "delafossite",
            ("A", "B", "X"),
            (1, 1, 2),
            "delafossite",
            (),
            (0, 2),
            (2, 6, 1),
            "R-3m (CuFeO2)",
            _delafossite,
        ),
        _p(
            "antiperovskite",
            ("M", "A", "X"),
            (3, 1, 1),
            "antiperovskite",
            (),
            (0, 2),
            (2, 12, 6),
            "Pm-3m (Fe3NiN, Mn3GaN)",
            _antiperovskite,
        ),
        _p(
            "inverse-heusler",
            ("X", "Y", "Z"),
            (2, 1, 1),
            "heusler",
            (),
            (0, 1),
            (8, 8, 8),
            "XA, F-43m (Hg2CuTi)",
            _inverse_heusler,
        ),
    ]
}


#: The prototypes generated by default (the original set of the demo and the first benchmark);
#: the others (borides, carbides, silicides, oxides, delafossites, antiperovskites, ...) are
#: opt-in by name, or all at once with ``prototypes="all"``.
DEFAULT_PROTOTYPES: tuple[str, ...] = (
    "fcc", "bcc", "hcp", "diamond", "sc", "rocksalt", "zincblende", "wurtzite", "nickeline",
    "fluorite", "CsCl", "L12", "L10", "perovskite", "heusler", "half-heusler",
)  # fmt: skip


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
