"""The combinatorial split of the paper (section 3.2).

1. Drop candidates with an oxidation state that occurs in only one candidate.
2. All unaries go to ``train``.
3. Binary element combinations, in a seeded random order, go to ``train`` when
   one of their candidates brings an oxidation state that ``train`` lacks.
4. Binary and ternary candidates with an oxidation state absent from ``train``
   are dropped.
5. ``n_val`` binary element combinations go to ``val``; of the remaining
   binary combinations a share ``test_binary_frac`` (or ``n_test_binary``)
   goes to ``test_binary`` and the rest to ``train``; held-out combinations
   always go to the test splits. All ternaries go to ``test_ternary``
   (optionally a seeded sample of ``n_test_ternary`` combinations).
6. Check that no element combination of ``val``/``test_*`` occurs in ``train``.

All candidates of one element combination (e.g. every Ga-N polymorph) land in
the same split: the split is by element combination, never by structure.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms

from rhocat.errors import InputError
from rhocat.structures.candidate import Candidate
from rhocat.structures.filters import rare_oxidation_states

SPLITS = ("train", "val", "test_binary", "test_ternary", "dropped")
EVAL_SPLITS = ("val", "test_binary", "test_ternary")


@dataclass
class Assignment:
    """Where one candidate went and why.

    Attributes:
        id, prototype, formula, elements, oxidation_states, species, n_atoms:
            copied from the :class:`~rhocat.structures.candidate.Candidate`.
        split: one of :data:`SPLITS`.
        reason: why it was placed there (or dropped).
        structure_path: absolute path of its structure file, if it has one.
        atoms: the structure (Å), when in memory.
    """

    id: str
    split: str
    reason: str
    prototype: str
    formula: str
    elements: tuple[str, ...]
    oxidation_states: dict[str, float]
    species: tuple[str, ...]
    n_atoms: int
    structure_path: Path | None = None
    atoms: Atoms | None = None

    @property
    def system(self) -> str:
        return "-".join(self.elements)


@dataclass
class Split:
    """A split of candidates into train/val/test_binary/test_ternary/dropped.

    Attributes:
        assignments: one per candidate, in the input order.
        parameters: the arguments of :func:`make_split` (seed, sizes, holdout).
        warnings: things the user should know (e.g. an empty validation split).
    """

    assignments: list[Assignment]
    parameters: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def ids(self, name: str) -> list[str]:
        """Ids of the candidates in split ``name``."""
        return [a.id for a in self.assignments if a.split == name]

    def by_id(self) -> dict[str, Assignment]:
        return {a.id: a for a in self.assignments}

    def systems(self, name: str) -> set[tuple[str, ...]]:
        """Element combinations present in split ``name``."""
        return {a.elements for a in self.assignments if a.split == name}

    def counts(self) -> dict[str, int]:
        """Rows of the paper's Table 1: number of structures per split."""
        rows = {
            "train_unary": 0,
            "train_binary": 0,
            "train_ternary": 0,
            "val": 0,
            "test_binary": 0,
            "test_ternary": 0,
            "dropped": 0,
        }
        for a in self.assignments:
            if a.split == "train":
                rows[f"train_{['unary', 'binary', 'ternary'][len(a.elements) - 1]}"] += 1
            else:
                rows[a.split] += 1
        return rows


def _shuffled(items: Iterable, rng: random.Random) -> list:
    out = sorted(items)
    rng.shuffle(out)
    return out


def parse_holdout(holdout: Iterable[str | Sequence[str]] | None) -> list[tuple[str, ...]]:
    """Element combinations to hold out: ``["Ga-As", ("Cu", "Ni", "Ga")]`` -> sorted tuples."""
    out: list[tuple[str, ...]] = []
    for h in holdout or []:
        parts = h.replace(",", "-").split("-") if isinstance(h, str) else list(h)
        system = tuple(sorted(p.strip() for p in parts if p.strip()))
        if len(system) < 2:
            raise InputError(
                f"held-out combination {h!r} must name 2 or 3 elements (e.g. Ga-As); "
                "unaries always go to train"
            )
        out.append(system)
    return out


def make_split(
    candidates: Sequence[Candidate],
    seed: int = 0,
    n_val: int = 2,
    test_binary_frac: float = 0.5,
    n_test_binary: int | None = None,
    n_train_binary: int | None = None,
    n_test_ternary: int | None = None,
    holdout: Iterable[str | Sequence[str]] | None = None,
    require_ternary: bool = True,
) -> Split:
    """Split candidates by element combination as in the paper (module docstring).

    Args:
        candidates: the candidate set (unique ids).
        seed: seed of every random choice; same inputs and seed give the same split.
        n_val: number of binary element combinations for validation.
        test_binary_frac: share of the binary combinations left after coverage and
            validation that go to ``test_binary`` (the rest to ``train``).
        n_test_binary: exact number of such combinations for ``test_binary``
            instead of ``test_binary_frac`` (the rest to ``train``).
        n_train_binary: at most this many of the remaining binary combinations go to
            ``train`` on top of those needed for oxidation-state coverage; the rest
            are dropped (keeps a demo small).
        n_test_ternary: keep a seeded sample of this many ternary combinations in
            ``test_ternary``; the others are dropped.
        holdout: element combinations (``"Ga-As"``) forced into the test splits.
        require_ternary: raise if no ternary candidate ends in ``test_ternary``.

    Raises:
        InputError: duplicate ids, no candidates, bad sizes, a held-out combination
            that matches no candidate, or (with ``require_ternary``) an element set
            too small to give a ternary test split.
    """
    _check_split_arguments(candidates, n_val, test_binary_frac,
                           n_test_binary, n_train_binary, n_test_ternary)  # fmt: skip
    held = _check_holdout(candidates, holdout)
    rng = random.Random(seed)  # one stream, drawn in this order: coverage, binaries, ternaries
    placer = _Placer(candidates, set(held))
    placer.place_unaries()
    placer.cover_oxidation_states(rng)
    placer.drop_uncovered()
    warnings = placer.place_binaries(rng, n_val, test_binary_frac, n_test_binary, n_train_binary)
    placer.place_ternaries(rng, n_test_ternary)
    result = Split(
        assignments=[_assignment(c, *placer.placed[c.id]) for c in candidates],
        parameters={
            "seed": seed,
            "n_val": n_val,
            "test_binary_frac": test_binary_frac,
            "n_test_binary": n_test_binary,
            "n_train_binary": n_train_binary,
            "n_test_ternary": n_test_ternary,
            "holdout": ["-".join(h) for h in held],
            "require_ternary": require_ternary,
        },
        warnings=warnings,
    )
    _check_evaluation_splits(result, candidates, len(placer.ternaries), require_ternary)
    check_disjoint(result)
    return result


def _check_split_arguments(
    candidates: Sequence[Candidate],
    n_val: int,
    test_binary_frac: float,
    n_test_binary: int | None,
    n_train_binary: int | None,
    n_test_ternary: int | None,
) -> None:
    """InputError for an empty or ambiguous candidate set and for impossible sizes."""
    if not candidates:
        raise InputError("no candidates to split")
    ids = [c.id for c in candidates]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"duplicate candidate ids: {', '.join(dupes[:5])}")
    if n_val < 0:
        raise InputError(f"n_val must be >= 0, got {n_val}")
    if not 0.0 <= test_binary_frac <= 1.0:
        raise InputError(f"test_binary_frac must be within [0, 1], got {test_binary_frac}")
    for name, value in (
        ("n_test_binary", n_test_binary),
        ("n_train_binary", n_train_binary),
        ("n_test_ternary", n_test_ternary),
    ):
        if value is not None and value < 0:
            raise InputError(f"{name} must be >= 0, got {value}")


def _check_holdout(
    candidates: Sequence[Candidate], holdout: Iterable[str | Sequence[str]] | None
) -> list[tuple[str, ...]]:
    """The held-out combinations (sorted tuples); InputError for 4+ element candidates
    and for a held-out combination that matches no candidate."""
    held = parse_holdout(holdout)
    bad = [c for c in candidates if not 1 <= len(c.elements) <= 3]
    if bad:
        raise InputError(
            f"candidate {bad[0].id} has {len(bad[0].elements)} elements; the split handles 1-3"
        )
    present = {c.elements for c in candidates}
    missing = [h for h in held if h not in present]
    if missing:
        raise InputError(
            "held-out combination(s) match no candidate: " + ", ".join("-".join(m) for m in missing)
        )
    return held


class _Placer:
    """The steps 1-5 of the module docstring, one method each, on one shared state:
    ``placed`` (candidate id -> (split, reason)), the candidates per element
    combination, the oxidation states ``train`` covers and the combinations it holds."""

    def __init__(self, candidates: Sequence[Candidate], held: set[tuple[str, ...]]):
        self.held = held
        self.placed: dict[str, tuple[str, str]] = {}
        kept, rare = rare_oxidation_states(candidates)  # step 1
        for c, reason in rare:
            self.placed[c.id] = ("dropped", reason)
        self.by_system: dict[tuple[str, ...], list[Candidate]] = defaultdict(list)
        for c in kept:
            self.by_system[c.elements].append(c)
        self.binaries = [s for s in self.by_system if len(s) == 2]
        self.ternaries = [s for s in self.by_system if len(s) == 3]
        self.covered: set[str] = set()
        self.train_systems: set[tuple[str, ...]] = set()

    def assign(self, system: tuple[str, ...], split: str, reason: str) -> None:
        """Every (surviving) candidate of ``system`` to ``split``."""
        for c in self.by_system[system]:
            self.placed[c.id] = (split, reason)

    def _species(self, system: tuple[str, ...]) -> set[str]:
        return {sp for c in self.by_system[system] for sp in c.species}

    def place_unaries(self) -> None:
        """Step 2: every unary to ``train``."""
        for system in [s for s in self.by_system if len(s) == 1]:
            self.train_systems.add(system)
            self.assign(system, "train", "unary")
            self.covered |= self._species(system)

    def cover_oxidation_states(self, rng: random.Random) -> None:
        """Step 3: binaries, in a seeded order, to ``train`` when they bring an oxidation
        state it lacks (held-out combinations never)."""
        for system in _shuffled([s for s in self.binaries if s not in self.held], rng):
            new = sorted(self._species(system) - self.covered)
            if new:
                self.train_systems.add(system)
                self.assign(system, "train", f"binary sampled to cover oxidation states "
                                             f"{', '.join(new)}")  # fmt: skip
                self.covered |= self._species(system)

    def drop_uncovered(self) -> None:
        """Step 4: drop binary and ternary candidates with an oxidation state ``train`` lacks."""
        for system in self.binaries + self.ternaries:
            if system in self.train_systems:
                continue
            survivors = []
            for c in self.by_system[system]:
                absent = sorted(set(c.species) - self.covered)
                if absent:
                    reason = f"oxidation state {', '.join(absent)} absent from training"
                    self.placed[c.id] = ("dropped", reason)
                else:
                    survivors.append(c)
            self.by_system[system] = survivors

    def place_binaries(
        self,
        rng: random.Random,
        n_val: int,
        test_binary_frac: float,
        n_test_binary: int | None,
        n_train_binary: int | None,
    ) -> list[str]:
        """Step 5 for binaries: ``val``, ``test_binary``, then ``train`` (or dropped beyond
        ``n_train_binary``). Returns warnings (too few left for validation)."""
        remaining = [s for s in self.binaries if s not in self.train_systems and self.by_system[s]]
        free = _shuffled([s for s in remaining if s not in self.held], rng)
        warnings: list[str] = []
        val_systems, free = free[:n_val], free[n_val:]
        if len(val_systems) < n_val:
            warnings.append(
                f"only {len(val_systems)} binary combination(s) left for validation (asked {n_val})"
            )
        for s in val_systems:
            self.assign(s, "val", "binary chosen for validation")
        n_test = round(test_binary_frac * len(free)) if n_test_binary is None else n_test_binary
        n_test = min(n_test, len(free))
        for s in [s for s in remaining if s in self.held]:
            self.assign(s, "test_binary", "binary held out by the user")
        for s in free[:n_test]:
            self.assign(s, "test_binary", "binary chosen for testing")
        for i, s in enumerate(free[n_test:]):
            if n_train_binary is not None and i >= n_train_binary:
                self.assign(s, "dropped", f"binary not sampled (n_train_binary={n_train_binary})")
            else:
                self.train_systems.add(s)
                self.assign(s, "train", "binary sampled for training")
        return warnings

    def place_ternaries(self, rng: random.Random, n_test_ternary: int | None) -> None:
        """Step 5 for ternaries: all to ``test_ternary`` (or a seeded sample of
        ``n_test_ternary`` combinations plus the held-out ones; the others dropped)."""
        tern = [s for s in self.ternaries if self.by_system[s]]
        free = _shuffled([s for s in tern if s not in self.held], rng)
        if n_test_ternary is not None:
            free, not_sampled = free[:n_test_ternary], free[n_test_ternary:]
            for s in not_sampled:
                self.assign(s, "dropped", f"ternary not sampled (n_test_ternary={n_test_ternary})")
        for s in [s for s in tern if s in self.held]:
            self.assign(s, "test_ternary", "ternary held out by the user")
        for s in free:
            self.assign(s, "test_ternary", "ternary")


def _assignment(c: Candidate, split: str, reason: str) -> Assignment:
    return Assignment(
        id=c.id,
        split=split,
        reason=reason,
        prototype=c.prototype,
        formula=c.formula,
        elements=tuple(c.elements),
        oxidation_states=dict(c.oxidation_states),
        species=c.species,
        n_atoms=c.n_atoms,
        structure_path=Path(c.path).resolve() if c.path else None,
        atoms=c.atoms,
    )


def _check_evaluation_splits(
    result: Split, candidates: Sequence[Candidate], n_ternaries: int, require_ternary: bool
) -> None:
    """InputError when the element set is too small for a ternary test split (with
    ``require_ternary``) or for any validation/test structure at all."""
    if require_ternary and not result.ids("test_ternary"):
        elements = sorted({e for c in candidates for e in c.elements})
        raise InputError(
            f"element set too small for a ternary split: no ternary candidate reached "
            f"test_ternary (elements: {', '.join(elements)}; "
            f"{n_ternaries} ternary combination(s) among the candidates). Add elements "
            "(at least 3 that form ternary prototypes) or split binaries only "
            "(require_ternary=False, CLI --no-ternary)."
        )
    if not any(result.ids(s) for s in EVAL_SPLITS):
        raise InputError(
            "no candidate left for validation or testing: the element set is too small "
            "(a combinatorial split needs binary or ternary candidates beyond those "
            "needed for training)"
        )


def check_disjoint(split: Split) -> None:
    """Raise AssertionError if an element combination of val/test occurs in train,
    or an oxidation state of val/test is absent from train (a bug, not user input)."""
    train = split.systems("train")
    train_species = {s for a in split.assignments if a.split == "train" for s in a.species}
    for a in split.assignments:
        if a.split in EVAL_SPLITS:
            if a.elements in train:
                raise AssertionError(f"{a.id} ({a.split}) shares elements {a.system} with train")
            if not set(a.species) <= train_species:
                raise AssertionError(f"{a.id} ({a.split}) has oxidation states unseen in train")
