"""Generate candidate bulk crystals for a set of elements from prototypes.

With ``rules=True`` (the default) a prototype is only tried where it makes
chemical sense, so that the candidate set resembles known bulk materials:

- unaries: each element in its ground-state structure according to ASE's
  reference states when that is one of fcc/bcc/hcp/diamond/sc; other solids
  get fcc (metals) or sc (non-metals, e.g. As); gases (N, O, ...) get none;
- ionic binaries (rocksalt, zincblende, wurtzite, nickeline, fluorite): the
  guessed oxidation states make A a cation and B an anion, A is a metal or a
  metalloid and B a non-metal or a metalloid of groups 15-16 (C, N, O, As, Te...);
- intermetallic binaries (CsCl, L1_2, L1_0): both elements are metals or
  metalloids, at least one of them a metal;
- perovskite ABX3: A and B metal cations, X one of O, N, F, Cl, Br, I, S, H
  as an anion, and Goldschmidt's tolerance factor
  t = (r_A + r_X) / (sqrt2 (r_B + r_X)) between 0.8 and 1.1;
- (half-, inverse) Heusler: X and Y metals, Z from groups 13-15 (Ga, Si, Ge, As, ...);
- the opt-in prototypes (``prototypes="all"``): WC-type a transition metal with
  B, C or N; AlB2-type a transition metal with B, Si, Ge or Ga; B20 a transition
  metal with Si or Ge; antifluorite, rutile, cuprite and CdI2 as the ionic
  binaries above; D0_3 and A15 as intermetallics; delafossite ABO2 with A one
  of Cu, Ag, Pd, Pt and B a metal; antiperovskite M3AX with M a transition metal,
  A a metal or metalloid and X one of B, C, N.

With ``rules=False`` every prototype is tried with every assignment of the
elements to its roles. In both cases a cell is kept only if it passes the
filters of :mod:`rhocat.structures.filters` (atoms, conventional volume,
interatomic distances). Deterministic: the same arguments give the same
candidates, in the same order, with the same ids.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rhocat.errors import InputError
from rhocat.structures.candidate import Candidate, guess_oxidation_states, make_candidate
from rhocat.structures.elements import (
    GASES,
    check_elements,
    electronegativity,
    is_metal,
    is_metalloid,
    is_p_block_13_15,
    radius,
    reference_structure,
    z,
)
from rhocat.structures.filters import (
    MAX_ATOMS,
    MAX_VOLUME_A3,
    MIN_DISTANCE_RATIO,
    size_problem,
    too_close,
)
from rhocat.structures.prototypes import (
    DEFAULT_PROTOTYPES,
    PROTOTYPES,
    Prototype,
    get_prototype,
)

UNARY_PROTOTYPES = ("fcc", "bcc", "hcp", "diamond", "sc")
PEROVSKITE_ANIONS = frozenset({"O", "N", "F", "Cl", "Br", "I", "S", "H"})
#: Light interstitial elements of carbides, nitrides and borides (WC, antiperovskite types).
INTERSTITIALS = frozenset({"B", "C", "N"})
#: The boron-site elements of AlB2-type compounds (CrB2, ...; also silicides, germanides).
BORIDE_B_SITE = frozenset({"B", "Si", "Ge", "Ga"})
#: The p-block elements of B20 monosilicides/germanides (FeSi, CrSi, RhGe).
B20_B_SITE = frozenset({"Si", "Ge"})
#: Linearly coordinated monovalent cations of delafossites (CuFeO2, AgCrO2).
DELAFOSSITE_A_SITE = frozenset({"Cu", "Ag", "Pd", "Pt"})
#: Goldschmidt's range for (distorted) perovskites.
TOLERANCE_FACTOR = (0.8, 1.1)
SQRT2 = 2.0**0.5


@dataclass
class Generation:
    """Result of :func:`enumerate_candidates`.

    Attributes:
        candidates: the kept candidates, in generation order.
        rejected: ``{"id", "prototype", "reason"}`` for each cell a filter rejected.
        skipped_by_rules: number of (prototype, element assignment) pairs the
            chemistry rules did not try.
        parameters: the arguments used (for provenance in ``candidates.json``).
    """

    candidates: list[Candidate]
    rejected: list[dict] = field(default_factory=list)
    skipped_by_rules: int = 0
    parameters: dict = field(default_factory=dict)


def preferred_unary(element: str) -> str | None:
    """Prototype of an element's unary candidate under the chemistry rules (None for gases)."""
    if element in GASES:
        return None
    ref = {"cubic": "sc"}.get(reference_structure(element), reference_structure(element))
    if ref in UNARY_PROTOTYPES:
        return ref
    return "fcc" if is_metal(element) else "sc"


def _metal_or_metalloid(e: str) -> bool:
    return is_metal(e) or is_metalloid(e)


def _transition_metal(e: str) -> bool:
    from pymatgen.core import Element

    return bool(Element(e).is_transition_metal)


def _anion(e: str) -> bool:
    """Non-metals (not noble gases) and the metalloids of groups 15-16 (As, Sb, Te)."""
    from pymatgen.core import Element

    if is_metal(e) or Element(e).is_noble_gas:
        return False
    return not is_metalloid(e) or Element(e).group in (15, 16)


def _allowed(proto: Prototype, elements: tuple[str, ...]) -> bool:
    """Chemistry rules (see module docstring); ``elements`` in role order."""

    def ox() -> dict[str, float]:
        return guess_oxidation_states(_formula(proto, elements))

    kind = proto.kind
    if kind == "unary":
        return preferred_unary(elements[0]) == proto.name
    if kind == "ionic":
        a, b = elements
        if not (_metal_or_metalloid(a) and _anion(b)):
            return False
        q = ox()
        return q.get(a, 0) > 0 and q.get(b, 0) < 0
    if kind == "metallic":
        return all(_metal_or_metalloid(e) for e in elements) and any(is_metal(e) for e in elements)
    if kind == "perovskite":
        a, b, x = elements
        if not (x in PEROVSKITE_ANIONS and is_metal(a) and is_metal(b)):
            return False
        t = (radius(a) + radius(x)) / (SQRT2 * (radius(b) + radius(x)))
        if not TOLERANCE_FACTOR[0] <= t <= TOLERANCE_FACTOR[1]:
            return False
        q = ox()
        return q.get(a, 0) > 0 and q.get(b, 0) > 0 and q.get(x, 0) < 0
    if kind == "heusler":
        x, y, zz = elements
        return is_metal(x) and is_metal(y) and is_p_block_13_15(zz)
    if kind == "interstitial":  # WC type: a transition metal with B, C or N
        return _transition_metal(elements[0]) and elements[1] in INTERSTITIALS
    if kind == "boride":  # AlB2 type
        return _transition_metal(elements[0]) and elements[1] in BORIDE_B_SITE
    if kind == "silicide":  # B20 type
        return _transition_metal(elements[0]) and elements[1] in B20_B_SITE
    if kind == "delafossite":  # A+ B3+ O2
        a, b, x = elements
        return a in DELAFOSSITE_A_SITE and is_metal(b) and b != a and x == "O"
    if kind == "antiperovskite":  # M3 A X: M transition metal faces, A corner, X B/C/N centre
        m, a, x = elements
        return _transition_metal(m) and _metal_or_metalloid(a) and x in INTERSTITIALS
    raise AssertionError(f"unknown prototype kind {kind}")


def _site_formula(proto: Prototype, elements: tuple[str, ...]) -> str:
    """Formula in role order with reduced counts: ``GaN``, ``Cu2NiGa``, ``SrTiO3``."""
    g = math.gcd(*proto.counts)
    return "".join(
        e + (str(n // g) if n // g > 1 else "") for e, n in zip(elements, proto.counts, strict=True)
    )


def _formula(proto: Prototype, elements: tuple[str, ...]) -> str:
    return "".join(f"{e}{n}" for e, n in zip(elements, proto.counts, strict=True))


def _dedupe_key(proto: Prototype, elements: tuple[str, ...]) -> tuple:
    grouped = {i for g in proto.symmetric for i in g}
    key = [elements[i] for i in range(len(elements)) if i not in grouped]
    key += [tuple(sorted(elements[i] for i in g)) for g in proto.symmetric]
    return tuple(key)


def _assignments(proto: Prototype, elements: Sequence[str]) -> Iterable[tuple[str, ...]]:
    """Element tuples in role order; element combinations in atomic-number order,
    permutations ordered by electronegativity (cation-like first)."""
    for combo in itertools.combinations(elements, proto.n_elements):
        ordered = sorted(combo, key=lambda e: (electronegativity(e), z(e)))
        seen: set[tuple] = set()
        for perm in itertools.permutations(ordered):
            yield perm, seen


def enumerate_candidates(
    elements: Iterable[str],
    prototypes: Sequence[str] | None = None,
    max_atoms: int | None = MAX_ATOMS,
    max_volume: float | None = MAX_VOLUME_A3,
    min_distance_ratio: float = MIN_DISTANCE_RATIO,
    rules: bool = True,
    max_per_system: int | None = None,
) -> Generation:
    """Candidates plus what the filters rejected; arguments as :func:`generate_candidates`."""
    els = check_elements(elements)
    if prototypes is None:
        protos = [PROTOTYPES[p] for p in DEFAULT_PROTOTYPES]
    elif prototypes == "all" or list(prototypes) == ["all"]:
        protos = list(PROTOTYPES.values())
    else:
        if isinstance(prototypes, str):
            prototypes = [p for p in prototypes.replace(",", " ").split() if p]
        if not prototypes:
            raise InputError("empty prototype list")
        protos = [get_prototype(p) for p in prototypes]
    if max_atoms is not None and max_atoms < 1:
        raise InputError(f"max_atoms must be at least 1, got {max_atoms}")
    if max_volume is not None and max_volume <= 0:
        raise InputError(f"max_volume must be positive (Å³), got {max_volume}")
    if max_per_system is not None and max_per_system < 1:
        raise InputError(f"max_per_system must be at least 1, got {max_per_system}")

    gen = Generation(
        candidates=[],
        parameters={
            "elements": list(els),
            "prototypes": [p.name for p in protos],
            "max_atoms": max_atoms,
            "max_volume_A3": max_volume,
            "min_distance_ratio": min_distance_ratio,
            "rules": rules,
            "max_per_system": max_per_system,
        },
    )
    per_system: dict[tuple[str, ...], int] = {}
    seen_ids: set[str] = set()
    for n in (1, 2, 3):
        for proto in (p for p in protos if p.n_elements == n):
            for perm, seen in _assignments(proto, els):
                key = _dedupe_key(proto, perm)
                if key in seen:
                    continue
                cid = f"{proto.name}-{_site_formula(proto, perm)}"
                system = tuple(sorted(perm))
                if rules and not _allowed(proto, perm):
                    gen.skipped_by_rules += 1
                    continue
                seen.add(key)
                atoms = proto.build(perm)
                conv_volume = proto.conventional_factor * float(atoms.get_volume())
                reason = size_problem(atoms, max_atoms, max_volume, conv_volume) or too_close(
                    atoms, min_distance_ratio
                )
                if reason is None and max_per_system is not None:
                    if per_system.get(system, 0) >= max_per_system:
                        reason = f"max_per_system={max_per_system} reached for {'-'.join(system)}"
                if reason is not None:
                    gen.rejected.append({"id": cid, "prototype": proto.name, "reason": reason})
                    continue
                if cid in seen_ids:  # cannot happen with site-ordered formulas; guard anyway
                    raise AssertionError(f"duplicate candidate id {cid}")
                seen_ids.add(cid)
                per_system[system] = per_system.get(system, 0) + 1
                meta = {
                    "roles": dict(zip(proto.roles, perm, strict=True)),
                    "conventional_volume_A3": round(conv_volume, 4),
                    "lattice": "principal bond = sum of element radii (pymatgen)",
                }
                gen.candidates.append(make_candidate(cid, proto.name, atoms, "generated", meta))
    return gen


def generate_candidates(
    elements: Iterable[str],
    prototypes: Sequence[str] | None = None,
    max_atoms: int | None = MAX_ATOMS,
    max_volume: float | None = MAX_VOLUME_A3,
    min_distance_ratio: float = MIN_DISTANCE_RATIO,
    rules: bool = True,
    max_per_system: int | None = None,
) -> list[Candidate]:
    """Candidate bulk crystals of 1, 2 and 3 of ``elements`` built from prototypes.

    Args:
        elements: element symbols (``["Ga", "N"]`` or ``"Ga,N"``).
        prototypes: prototype names to try (default: all of
            :data:`rhocat.structures.prototypes.PROTOTYPES`).
        max_atoms: largest number of atoms in the (primitive) cell; None: no limit.
        max_volume: largest conventional-cell volume, Å³; None: no limit.
        min_distance_ratio: reject cells where two atoms are closer than this
            fraction of the sum of their radii.
        rules: only try prototypes where they make chemical sense (module docstring).
        max_per_system: keep at most this many candidates per element combination
            (the first ones in prototype order).

    Returns:
        Candidates ordered by number of elements, prototype, then element combination.

    Raises:
        InputError: unknown element or prototype, empty lists, bad limits.
    """
    return enumerate_candidates(
        elements, prototypes, max_atoms, max_volume, min_distance_ratio, rules, max_per_system
    ).candidates
