"""Element data used to build and classify candidates: radii and chemical classes.

Radii come from pymatgen's element data (Å): the metallic radius (12-fold
coordination) where pymatgen has one, otherwise the empirical atomic radius
(close to the covalent radius for non-metals).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from functools import cache

from ase.data import atomic_numbers, chemical_symbols, reference_states

from rhocat.errors import InputError

#: Elements that are gases (molecular or atomic) at room temperature: no bulk unary.
GASES = frozenset({"H", "He", "N", "O", "F", "Ne", "Cl", "Ar", "Kr", "Xe", "Rn"})


def check_elements(elements: Iterable[str]) -> tuple[str, ...]:
    """Validate element symbols; return them sorted by atomic number, without duplicates.

    Raises:
        InputError: empty list, or a symbol that is not a chemical element.
    """
    if isinstance(elements, str):
        elements = [e for e in elements.replace(",", " ").split() if e]
    cleaned: list[str] = []
    for raw in elements:
        sym = str(raw).strip()
        if not sym:
            continue
        if sym not in atomic_numbers or sym == "X" or atomic_numbers[sym] > 103:
            raise InputError(
                f"unknown element symbol {raw!r} (symbols are case-sensitive, e.g. 'Cu')"
            )
        if sym not in cleaned:
            cleaned.append(sym)
    if not cleaned:
        raise InputError("empty element list: name at least one element, e.g. --elements Cu,Ni")
    return tuple(sorted(cleaned, key=lambda s: atomic_numbers[s]))


@cache
def radius(symbol: str) -> float:
    """Radius of an element in Å: pymatgen's metallic radius, else its atomic radius."""
    from pymatgen.core import Element

    el = Element(symbol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = el.metallic_radius
        if r is None or float(r) <= 0:
            r = el.atomic_radius
        if r is None or float(r) <= 0:
            r = el.atomic_radius_calculated
    if r is None:
        raise InputError(f"no tabulated radius for element {symbol}")
    return float(r)


@cache
def electronegativity(symbol: str) -> float:
    """Pauling electronegativity (unitless); elements without one sort last."""
    from pymatgen.core import Element

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = Element(symbol).X
    return float(x) if x == x else 10.0  # NaN for noble gases


@cache
def is_metal(symbol: str) -> bool:
    """True for metals (pymatgen's classification: Ga, Cu, Fe ... but not Si, Ge, As)."""
    from pymatgen.core import Element

    return bool(Element(symbol).is_metal)


@cache
def is_metalloid(symbol: str) -> bool:
    """True for metalloids (B, Si, Ge, As, Sb, Te, ...)."""
    from pymatgen.core import Element

    return bool(Element(symbol).is_metalloid)


def is_p_block_13_15(symbol: str) -> bool:
    """True for elements of groups 13-15 that are not gases (B, Al, Ga, Si, Ge, As, Sb, ...)."""
    from pymatgen.core import Element

    return Element(symbol).group in (13, 14, 15) and symbol not in GASES


def reference_structure(symbol: str) -> str:
    """Name of the element's ground-state structure according to ASE (``fcc``, ``diamond``, ...)."""
    state = reference_states[atomic_numbers[symbol]]
    return str(state["symmetry"]) if state else "unknown"


def z(symbol: str) -> int:
    """Atomic number."""
    return atomic_numbers[symbol]


def symbol(number: int) -> str:
    """Chemical symbol of an atomic number."""
    return chemical_symbols[number]
