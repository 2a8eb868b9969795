"""The combinatorial split: disjointness (property test), determinism, sizes, bad input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rhocat.errors import InputError
from rhocat.split import EVAL_SPLITS, make_split, summary_table
from rhocat.structures import generate_candidates

DEMO = "B C N O Si Ge Ga As Cr Fe Ni Cu Rh Ag".split()
POOL = ["B", "C", "N", "O", "Al", "Si", "Ti", "Cr", "Fe", "Ni", "Cu", "Ga", "Ge", "As", "Rh", "Ag"]

_CACHE: dict[tuple[str, ...], list] = {}


def _cands(elements):
    key = tuple(sorted(elements))
    if key not in _CACHE:
        _CACHE[key] = generate_candidates(key)
    return _CACHE[key]


@pytest.fixture(scope="module")
def demo_candidates():
    return generate_candidates(DEMO)


def _check_invariants(split, candidates):
    by = split.by_id()
    assert set(by) == {c.id for c in candidates}  # every candidate placed exactly once
    train = split.systems("train")
    train_elements = {e for s in train for e in s}
    train_species = {s for a in split.assignments if a.split == "train" for s in a.species}
    for a in split.assignments:
        assert a.reason
        if a.split in EVAL_SPLITS:
            assert a.elements not in train  # no val/test element combination in train
            assert set(a.elements) <= train_elements  # but every element was seen
            assert set(a.species) <= train_species  # and every oxidation state
        if len(a.elements) == 1:
            assert a.split in ("train", "dropped")
        if a.split == "test_ternary":
            assert len(a.elements) == 3
        if a.split in ("val", "test_binary"):
            assert len(a.elements) == 2
    # one element combination never straddles two kept splits
    where: dict[tuple, set] = {}
    for a in split.assignments:
        if a.split != "dropped":
            where.setdefault(a.elements, set()).add(a.split)
    assert all(len(s) == 1 for s in where.values())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    elements=st.lists(st.sampled_from(POOL), min_size=3, max_size=7, unique=True),
    seed=st.integers(0, 10_000),
    frac=st.floats(0.0, 1.0),
    n_val=st.integers(0, 3),
)
def test_disjoint_by_element_combination(elements, seed, frac, n_val):
    candidates = _cands(elements)
    try:
        split = make_split(
            candidates, seed=seed, n_val=n_val, test_binary_frac=frac, require_ternary=False
        )
    except InputError as exc:  # tiny sets may leave nothing to test: must say so clearly
        assert "too small" in str(exc) or "no candidate" in str(exc)
        return
    _check_invariants(split, candidates)


def test_demo_split(demo_candidates):
    split = make_split(demo_candidates, seed=0)
    _check_invariants(split, demo_candidates)
    counts = split.counts()
    assert counts["train_unary"] == 12
    assert counts["val"] > 0 and counts["test_binary"] > 0 and counts["test_ternary"] > 0
    table = summary_table(split)
    assert "Train (unary)" in table and "Test (ternary)" in table


def test_demo_split_small(demo_candidates):
    small = generate_candidates(DEMO, max_per_system=1)
    split = make_split(small, seed=0, n_train_binary=5, n_test_binary=8, n_test_ternary=12)
    _check_invariants(split, small)
    kept = sum(1 for a in split.assignments if a.split != "dropped")
    assert 30 <= kept <= 80
    assert split.counts()["test_binary"] == 8 and split.counts()["test_ternary"] == 12


def test_deterministic_under_seed(demo_candidates):
    a = make_split(demo_candidates, seed=3)
    b = make_split(list(demo_candidates), seed=3)
    c = make_split(demo_candidates, seed=4)
    assert [(x.id, x.split, x.reason) for x in a.assignments] == [
        (x.id, x.split, x.reason) for x in b.assignments
    ]
    assert [x.split for x in a.assignments] != [x.split for x in c.assignments]


def test_coverage_binaries_bring_new_oxidation_states(demo_candidates):
    split = make_split(demo_candidates, seed=0)
    unary_species = {s for a in split.assignments if a.reason == "unary" for s in a.species}
    coverage = [a for a in split.assignments if a.reason.startswith("binary sampled to cover")]
    assert coverage
    for a in coverage:
        named = set(a.reason.split("oxidation states ")[1].split(", "))
        system_species = {
            s for b in split.assignments if b.elements == a.elements for s in b.species
        }
        assert named and named <= system_species and not named & unary_species


def test_test_binary_frac_extremes(demo_candidates):
    none = make_split(demo_candidates, seed=0, test_binary_frac=0.0)
    allb = make_split(demo_candidates, seed=0, test_binary_frac=1.0)
    assert none.counts()["test_binary"] == 0
    assert allb.counts()["test_binary"] > 0
    assert allb.counts()["train_binary"] < none.counts()["train_binary"]


def test_holdout(demo_candidates):
    split = make_split(demo_candidates, seed=0, holdout=["Ga-Ni", "Ni-Cu-Ge"])
    for a in split.assignments:
        if a.elements == ("Ga", "Ni"):
            assert a.split in ("test_binary", "dropped")
        if a.elements == ("Cu", "Ge", "Ni"):
            assert a.split in ("test_ternary", "dropped")
    assert any(a.reason == "binary held out by the user" for a in split.assignments)


def test_holdout_errors(demo_candidates):
    with pytest.raises(InputError, match="2 or 3 elements"):
        make_split(demo_candidates, holdout=["Cu"])
    with pytest.raises(InputError, match="match no candidate"):
        make_split(demo_candidates, holdout=["Ag-Xe"])


def test_too_small_for_ternary_split():
    with pytest.raises(InputError, match="too small for a ternary split"):
        make_split(generate_candidates(["Ga", "As", "Ni"]))  # Heuslers exceed 200 Å³
    with pytest.raises(InputError, match="too small for a ternary split"):
        make_split(generate_candidates(["Cu", "Ni"]))
    split = make_split(generate_candidates(["Cu", "Ni", "Ga"]), require_ternary=False)
    assert split.ids("val") or split.ids("test_binary")


def test_nothing_to_test():
    with pytest.raises(InputError, match="too small"):
        make_split(generate_candidates(["Cu"]), require_ternary=False)


def test_bad_arguments(demo_candidates):
    with pytest.raises(InputError, match="no candidates"):
        make_split([])
    with pytest.raises(InputError, match="test_binary_frac"):
        make_split(demo_candidates, test_binary_frac=1.5)
    with pytest.raises(InputError, match="duplicate"):
        make_split(demo_candidates + demo_candidates[:1])
