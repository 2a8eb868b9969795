"""benchmarks/dataset_recipe.py: which cells the benchmark dataset holds, per split."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from types import SimpleNamespace

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import dataset_recipe  # noqa: E402


def _bench_json(*parts: str):
    """The JSON file at ``benchmarks/<parts...>`` (a snapshot, or the dataset's split,
    jobs and relaxed records), parsed afresh on every call."""
    return json.loads(BENCH.joinpath(*parts).read_text())


def _split(*assignments):
    return SimpleNamespace(assignments=[SimpleNamespace(id=i, split=s) for i, s in assignments])


def test_more_val_prototypes_are_the_validation_cells_the_choice_left_out(monkeypatch):
    split = _split(("b-X", "val"), ("a-X", "val"), ("c-X", "val"), ("d-Y", "train"))
    chosen = {"c-X": "val", "d-Y": "train"}
    assert dataset_recipe.more_val_prototypes(split, chosen) == ["a-X", "b-X"]
    assert dataset_recipe.extra_split("a-X", ["a-X"]) == "val"
    assert dataset_recipe.extra_split("graphite-C", ["a-X"]) == "train"
    assert dataset_recipe.extra_split("CdI2-RhI2") == "val"
    monkeypatch.setattr(dataset_recipe, "ALL_VAL_PROTOTYPES", False)
    assert dataset_recipe.more_val_prototypes(split, chosen) == []


def test_every_validation_candidate_is_a_job_or_dropped_with_its_reason():
    spec = _bench_json("dataset", "jobs.json")
    val = _candidate_ids("val")
    parents = {j["parent"] for j in spec["jobs"] if j["split"] == "val"}
    assert val - parents == val & set(spec["dropped"])  # the rest are all computed
    # 63 candidates of the 8 combinations: 58 computed, 5 over 0.5 eV/atom above the hull
    assert (len(val), len(val & parents), len(val & set(spec["dropped"]))) == (63, 58, 5)
    copies = [j for j in spec["jobs"] if j["split"] == "val" and j["parent"] in val]
    assert len(copies) == 2 * len(val & parents)  # the cell and one strained copy


def _ternary(cid, elements, reason="ternary not sampled (n_test_ternary=110)", split="dropped"):
    return SimpleNamespace(id=cid, split=split, reason=reason, elements=elements)


def test_val_ternaries_are_one_seeded_cell_per_unsampled_ternary_combination(monkeypatch):
    abc, abd = ["A", "B", "C"], ["A", "B", "D"]
    split = SimpleNamespace(assignments=[
        _ternary("heusler-A2BC", abc), _ternary("half-heusler-ABC", abc),
        _ternary("heusler-A2BD", abd),
        _ternary("heusler-A2BE", ["A", "B", "E"], reason="oxidation state E0 absent from training"),
        _ternary("heusler-A2BF", ["A", "B", "F"], split="test_ternary", reason="ternary"),
    ])  # fmt: skip
    chosen = dataset_recipe.val_ternaries(split)
    assert len(chosen) == 2 and "heusler-A2BD" in chosen
    assert chosen == dataset_recipe.val_ternaries(split)  # seeded
    assert {dataset_recipe.val_ternaries(split, seed=k)[0] for k in range(20)} == {
        "heusler-A2BC", "half-heusler-ABC"
    }  # fmt: skip
    monkeypatch.setattr(dataset_recipe, "VAL_TERNARIES", False)
    assert dataset_recipe.val_ternaries(split) == []


def test_every_unsampled_ternary_combination_is_a_validation_job_or_dropped():
    split = _bench_json("dataset", "split.json")
    spec = _bench_json("dataset", "jobs.json")
    unsampled = {c["id"]: frozenset(c["elements"]) for c in split["candidates"]
                 if c["reason"].startswith("ternary not sampled")}  # fmt: skip
    systems = set(unsampled.values())
    val_jobs = [j for j in spec["jobs"] if j["split"] == "val" and j["parent"] in unsampled]
    computed = {j["parent"] for j in val_jobs}
    dropped = set(unsampled) & set(spec["dropped"])
    # 58 combinations, one cell each: 42 computed (each with a strained copy), 16 over
    # 0.5 eV/atom above the hull; no combination of training or test among them
    assert len(systems) == 58 and len(computed) + len(dropped) == 58
    assert (len(computed), len(dropped), len(val_jobs)) == (42, 16, 84)
    assert len({unsampled[c] for c in computed | dropped}) == 58
    others = {frozenset(c["elements"]) for c in split["candidates"]
              if c["split"] in ("train", "test_binary", "test_ternary", "val")}  # fmt: skip
    assert not systems & others


def test_the_enlarged_validation_snapshot_keeps_train_and_test():
    old = _bench_json("full_snapshot.json")
    new = _bench_json("full_snapshot_val122.json")
    for split in ("train", "test_binary", "test_ternary"):
        assert new[split] == old[split]
    assert set(old["val"]) < set(new["val"]) and len(new["val"]) == 122
    jobs = {j["id"] for j in _bench_json("dataset", "jobs.json")["jobs"]}
    assert set(new["val"]) <= jobs


def test_the_validation_ternary_snapshot_keeps_train_test_and_the_122():
    old = _bench_json("full_snapshot_val122.json")
    new = _bench_json("full_snapshot_val206.json")
    for split in ("train", "test_binary", "test_ternary"):
        assert new[split] == old[split]
    assert new["val"][:122] == old["val"] and len(set(new["val"])) == 206
    split = _bench_json("dataset", "split.json")
    elements = {c["id"]: len(c["elements"]) for c in split["candidates"]}
    jobs = {j["id"]: j["parent"] for j in _bench_json("dataset", "jobs.json")["jobs"]}
    assert all(elements[jobs[i]] == 3 for i in new["val"][122:])


def _binary(elements, split="train"):
    return SimpleNamespace(id="-".join(elements), split=split, reason="", elements=elements)


def test_training_ternaries_are_combinations_of_training_pairs_that_no_evaluation_holds(
    monkeypatch,
):
    monkeypatch.setattr(dataset_recipe, "ELEMENTS", ["Cu", "Fe", "N", "O"])
    split = SimpleNamespace(assignments=[
        _binary(["Cu", "Fe"]), _binary(["Cu", "N"]), _binary(["Fe", "N"]),
        _binary(["Cu", "O"]), _binary(["Fe", "O"]), _binary(["N", "O"], split="val"),
        # Cu-Fe-O: its pairs are all training pairs, but it is a test combination
        _ternary("heusler-Cu2FeO", ["Cu", "Fe", "O"], split="test_ternary", reason="ternary"),
        # Cu-Fe-N: dropped for an oxidation state, so it holds no evaluation cell
        _ternary("antiperovskite-Fe3CuN", ["Cu", "Fe", "N"], reason="oxidation state N0 absent"),
    ])  # fmt: skip
    # Cu-N-O and Fe-N-O have the validation pair N-O; Cu-Fe-O is held by test
    assert dataset_recipe.train_ternary_systems(split) == [("Cu", "Fe", "N")]
    split.assignments[-1] = _ternary("antiperovskite-Fe3CuN", ["Cu", "Fe", "N"])  # unsampled
    assert dataset_recipe.train_ternary_systems(split) == []  # validation's now
    monkeypatch.setattr(dataset_recipe, "TRAIN_TERNARIES", False)
    assert dataset_recipe.train_ternary_systems(split) == []


def test_the_most_stable_cells_of_each_combination_are_kept(monkeypatch):
    monkeypatch.setattr(dataset_recipe, "TERNARY_KEEP", 2)
    e_hull = {"a": 0.30, "b": 0.10, "c": 0.20, "d": 0.40, "e": 0.0}
    systems = {"a": ("X",), "b": ("X",), "c": ("X",), "d": ("Y",)}
    dropped = dataset_recipe.most_stable_per_system(e_hull, systems)
    assert dropped == {"a": "not among the 2 most stable cells of its combination"}


def test_training_ternary_cells_are_seeded_tries_with_the_rule_made_ones_first(monkeypatch):
    monkeypatch.setattr(dataset_recipe, "train_ternary_systems", lambda split: [("Cu", "Fe", "N")])
    from rhocat.structures.generate import enumerate_candidates

    ruled = {c.id for c in enumerate_candidates(["Cu", "Fe", "N"], prototypes="all").candidates
             if len(c.elements) == 3}  # fmt: skip
    cells = dataset_recipe.train_ternary_cells(None)
    assert len(cells) == dataset_recipe.TERNARY_TRIES and ruled and ruled <= set(cells)
    assert list(cells) == list(dataset_recipe.train_ternary_cells(None))  # seeded
    assert list(cells) != list(dataset_recipe.train_ternary_cells(None, seed=1))
    assert all(sorted(set(a.get_chemical_symbols())) == ["Cu", "Fe", "N"] for a in cells.values())


def _evaluated_combinations(split: dict) -> set[frozenset]:
    """The element combinations of split.json that hold a validation or test candidate."""
    return {frozenset(c["elements"]) for c in split["candidates"]
            if c["split"] in ("val", "test_binary", "test_ternary")
            or c["reason"].startswith("ternary not sampled")}  # fmt: skip


def test_every_training_ternary_job_keeps_the_split():
    split = _bench_json("dataset", "split.json")
    spec = _bench_json("dataset", "jobs.json")
    relaxed = _bench_json("dataset", "relaxed.json")
    systems = {j["parent"]: frozenset(relaxed[j["parent"]]["composition"])
               for j in spec["jobs"] if j["split"] == "train"}  # fmt: skip
    ternary = {cid: s for cid, s in systems.items() if len(s) == 3}
    train_pairs = {frozenset(c["elements"]) for c in split["candidates"]
                   if c["split"] == "train" and len(c["elements"]) == 2}  # fmt: skip
    evaluated = _evaluated_combinations(split)
    # 26 cells of 17 combinations, at most 2 each, each with one strained copy
    assert (len(ternary), len(set(ternary.values()))) == (26, 17)
    assert max(list(ternary.values()).count(s) for s in ternary.values()) == 2
    for cid, system in ternary.items():
        assert system not in evaluated
        assert all(frozenset(p) in train_pairs for p in itertools.combinations(system, 2))
        assert relaxed[cid]["e_above_hull"] <= dataset_recipe.MAX_E_HULL
    n_jobs = sum(j["parent"] in ternary for j in spec["jobs"])
    assert n_jobs == 2 * len(ternary)


def _added_to_train(base: str, snapshot: str, n_base: int, n_added: int) -> list[str]:
    """The ids ``snapshot`` appends to ``base``'s training split, checked: the base's
    training ids first and as they were, ``n_added`` new ones, validation and test as is."""
    old = _bench_json(base)
    new = _bench_json(snapshot)
    for split in ("val", "test_binary", "test_ternary"):
        assert new[split] == old[split]
    assert len(old["train"]) == n_base and new["train"][:n_base] == old["train"]
    assert len(set(new["train"])) == n_base + n_added
    return new["train"][n_base:]


def _candidate_ids(split_name: str) -> set[str]:
    """The ids of split.json's candidates in ``split_name`` ('train', 'val', ...)."""
    split = _bench_json("dataset", "split.json")
    return {c["id"] for c in split["candidates"] if c["split"] == split_name}


def _added_train_candidates(base: str, snapshot: str, n_base: int, n_added: int) -> list[str]:
    """:func:`_added_to_train`, each added id checked to be one of the split's training
    candidates, the relaxed cell alone (no strained copy)."""
    added = _added_to_train(base, snapshot, n_base, n_added)
    train = _candidate_ids("train")
    assert all(i in train and "~" not in i for i in added)
    return added


def _train_elements() -> dict[str, frozenset]:
    """Training structure id -> the elements of its relaxed parent cell."""
    relaxed = _bench_json("dataset", "relaxed.json")
    jobs = _bench_json("dataset", "jobs.json")["jobs"]
    return {
        j["id"]: frozenset(relaxed[j["parent"]]["composition"])
        for j in jobs
        if j["split"] == "train"
    }


def test_the_training_ternary_snapshot_only_adds_training_ternaries():
    added = _added_to_train("full_snapshot.json", "full_snapshot_ternaries.json", 624, 52)
    elements = _train_elements()
    assert all(len(elements[i]) == 3 for i in added)


def test_the_equal_size_control_swaps_strained_copies_for_the_ternaries():
    full = _bench_json("full_snapshot.json")
    tern = _bench_json("full_snapshot_ternaries.json")
    control = _bench_json("full_snapshot_ternaries_624.json")
    assert len(control["train"]) == len(full["train"]) == 624
    out = set(full["train"]) - set(control["train"])
    assert len(out) == 52 and all("~c" in i for i in out)  # strained copies only
    cells = [{i.split("~")[0] for i in snap["train"]} for snap in (control, tern)]
    assert cells[0] == cells[1]  # every training cell (and so combination) kept
    assert set(control["train"]) - set(full["train"]) == set(tern["train"][624:])
    assert control["val"] == full["val"] and control["test_binary"] == full["test_binary"]


def test_training_pairs_are_the_pairs_no_split_holds_outside_evaluation_ternaries(monkeypatch):
    monkeypatch.setattr(dataset_recipe, "ELEMENTS", ["B", "Cu", "H", "I", "O"])
    split = SimpleNamespace(assignments=[
        _binary(["Cu", "O"]), _binary(["B", "Cu"], split="test_binary"),
        _binary(["Cu", "H"], split="dropped"),  # placed, though dropped
        _ternary("heusler-Cu2BH", ["B", "Cu", "H"], split="test_ternary", reason="ternary"),
        _ternary("perovskite-CuIO3", ["Cu", "I", "O"]),  # unsampled: validation's
        _ternary("perovskite-CuBO3", ["B", "Cu", "O"], reason="oxidation state B5 absent"),
    ])  # fmt: skip
    # B-H lies in a test ternary, I-O in a validation one; Cu-I is an extra cell's pair
    pairs = dataset_recipe.train_pair_systems(split, extra_pairs={("Cu", "I")})
    assert pairs == [("B", "I"), ("B", "O"), ("H", "I"), ("H", "O")]
    monkeypatch.setattr(dataset_recipe, "TRAIN_PAIRS", False)
    assert dataset_recipe.train_pair_systems(split) == []


def test_training_pair_cells_are_seeded_draws_of_binary_prototypes(monkeypatch):
    monkeypatch.setattr(dataset_recipe, "train_pair_systems", lambda split, extra: [("Ge", "Si")])
    cells = dataset_recipe.train_pair_cells(None)
    assert len(cells) == dataset_recipe.PAIR_TRIES
    assert all(sorted(set(a.get_chemical_symbols())) == ["Ge", "Si"] for a in cells.values())
    assert list(cells) == list(dataset_recipe.train_pair_cells(None))  # seeded
    assert list(cells) != list(dataset_recipe.train_pair_cells(None, seed=1))


def test_the_most_stable_cells_are_kept_per_combination_with_any_count():
    e_hull = {"a": 0.30, "b": 0.10, "c": 0.20}
    dropped = dataset_recipe.most_stable_per_system(e_hull, dict.fromkeys(e_hull, ("X",)), 1)
    assert dropped == {c: "not among the 1 most stable cells of its combination" for c in "ac"}


def test_a_relaxation_that_fails_is_recorded_not_raised(monkeypatch, tmp_path):
    from ase.build import bulk

    import rhocat.structures.relax as relax

    def relax_structures(structures, potential=None):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(relax, "load_potential", lambda: None)
    monkeypatch.setattr(relax, "relax_structures", relax_structures)
    info = dataset_recipe.relax_chosen(tmp_path, {"rocksalt-BH": bulk("BH", "rocksalt", a=4.0)})
    assert info["rocksalt-BH"]["failed"].startswith("RuntimeError: DefaultCPUAllocator")
    assert info["rocksalt-BH"]["composition"] == {"B": 1, "H": 1}
    assert not info["rocksalt-BH"]["converged"]
    assert not (tmp_path / "relaxed" / "rocksalt-BH.extxyz").exists()
    # cached: a second call does not relax again
    monkeypatch.setattr(relax, "relax_structures", None)
    assert dataset_recipe.relax_chosen(tmp_path, {"rocksalt-BH": None}) == info


def test_every_training_pair_job_keeps_the_split():
    split = _bench_json("dataset", "split.json")
    spec = _bench_json("dataset", "jobs.json")
    relaxed = _bench_json("dataset", "relaxed.json")
    placed = {frozenset(c["elements"]) for c in split["candidates"] if len(c["elements"]) > 1}
    evaluated = _evaluated_combinations(split)
    systems = {j["parent"]: frozenset(relaxed[j["parent"]]["composition"])
               for j in spec["jobs"] if j["split"] == "train"}  # fmt: skip
    pairs = {cid: s for cid, s in systems.items() if len(s) == 2 and s not in placed}
    # 26 cells of 15 pairs, at most 2 each, each with one strained copy
    assert (len(pairs), len(set(pairs.values()))) == (26, 15)
    assert max(list(pairs.values()).count(s) for s in pairs.values()) == 2
    for cid, pair in pairs.items():
        assert not any(pair <= system for system in evaluated)
        assert relaxed[cid]["e_above_hull"] <= dataset_recipe.MAX_E_HULL
    assert sum(j["parent"] in pairs for j in spec["jobs"]) == 2 * len(pairs)
    failed = [cid for cid, v in relaxed.items() if "failed" in v]
    assert len(failed) == 14 and all(
        spec["dropped"][c].startswith("relaxation failed") for c in failed
    )


def test_the_training_pair_snapshot_only_adds_training_pairs():
    added = _added_to_train("full_snapshot_ternaries.json", "full_snapshot_pairs.json", 676, 52)
    split = _bench_json("dataset", "split.json")
    placed = {frozenset(c["elements"]) for c in split["candidates"]}
    elements = _train_elements()
    assert all(len(elements[i]) == 2 and elements[i] not in placed for i in added)


def test_more_training_prototypes_are_seeded_left_out_training_candidates(monkeypatch):
    split = _split(*[(f"p{k}-X", "train") for k in range(5)], ("q-Y", "train"), ("v-Z", "val"))
    for a in split.assignments:
        a.elements = [a.id.split("-")[1]]
    more = dataset_recipe.more_train_prototypes(split, {"p0-X"}, exclude={"p1-X"})
    assert len(more) == 3 and "q-Y" in more and not {"p0-X", "p1-X", "v-Z"} & set(more)
    assert more == dataset_recipe.more_train_prototypes(split, {"p0-X"}, exclude={"p1-X"})
    draws = {tuple(dataset_recipe.more_train_prototypes(split, {"p0-X"}, seed=k)) for k in range(9)}
    assert len(draws) > 1  # seeded, not fixed
    monkeypatch.setattr(dataset_recipe, "MORE_TRAIN_PROTOTYPES", 0)
    assert dataset_recipe.more_train_prototypes(split, {"p0-X"}) == []


def test_the_more_prototypes_snapshot_adds_one_relaxed_cell_of_a_training_combination():
    base, snapshot = "full_snapshot_ternaries.json", "full_snapshot_prototypes.json"
    added = _added_train_candidates(base, snapshot, 676, 59)
    before = _bench_json(base)["train"]
    assert not set(added) & {i.split("~")[0] for i in before}


def test_the_rest_of_the_training_prototypes_is_every_candidate_not_taken(monkeypatch):
    split = _split(("b-X", "train"), ("a-X", "train"), ("c-X", "train"), ("v-Z", "val"))
    assert dataset_recipe.rest_of_train_prototypes(split, {"c-X"}) == ["a-X", "b-X"]
    monkeypatch.setattr(dataset_recipe, "ALL_TRAIN_PROTOTYPES", False)
    assert dataset_recipe.rest_of_train_prototypes(split, {"c-X"}) == []


def test_the_all_prototypes_snapshot_adds_the_rest_of_the_training_candidates():
    base, snapshot = "full_snapshot_prototypes.json", "full_snapshot_prototypes_all.json"
    _added_train_candidates(base, snapshot, 735, 92)
    spec = _bench_json("dataset", "jobs.json")
    train = _candidate_ids("train")
    # every training candidate is now a training job or dropped with its reason
    parents = {j["parent"] for j in spec["jobs"] if j["split"] == "train"}
    assert train <= parents | set(spec["dropped"])


def _relaxed(composition, energy, converged=True, volume=20.0):
    return {"composition": composition, "energy_ev_per_atom": energy, "converged": converged,
            "volume_A3": volume}  # fmt: skip


def test_a_later_hull_stage_changes_nothing_of_the_cells_before_it():
    refs = {"Ni": 0.0, "Ga": 0.0}
    info = {"a": _relaxed({"Ni": 1, "Ga": 1}, -0.2), "b": _relaxed({"Ni": 1, "Ga": 3}, -0.1),
            "c": _relaxed({"Ni": 3, "Ga": 1}, -0.5)}  # fmt: skip
    ids, hull = dataset_recipe._staged_hull(["a", "b"], [[], ["c"]], info, refs, failed={})
    assert ids == ["a", "b", "c"]
    alone = dataset_recipe._staged_hull(["a", "b"], [], info, refs, failed={})[1]
    assert hull[:2] == alone  # "c" (a new hull vertex) does not move "a" and "b"
    together = dataset_recipe._staged_hull(["a", "b", "c"], [], info, refs, failed={})[1]
    assert together[0] > hull[0] + 1e-3  # judged in one hull, "a" would lie above it
    assert dataset_recipe._staged_hull(["a"], [["c"]], info, refs, failed={"c": "x"})[0] == ["a"]


def test_drop_reasons_name_each_filter_and_keep_the_most_stable_per_combination(monkeypatch):
    monkeypatch.setattr(dataset_recipe, "MAX_VOLUME_A3", 100.0)
    ni, niga = {"Ni": 1}, {"Ni": 1, "Ga": 1}
    info = {"ok": _relaxed(ni, 0), "unconv": _relaxed(ni, 0, converged=False),
            "big": _relaxed(ni, 0, volume=150.0), "high": _relaxed(ni, 0),
            "t1": _relaxed(niga, 0), "t2": _relaxed(niga, 0)}  # fmt: skip
    ids, hull = list(info), [0.0, 0.0, 0.0, 0.9, 0.2, 0.1]
    failed = {"gone": "relaxation failed (MemoryError: x)"}
    dropped = dataset_recipe._drop_reasons(ids, hull, info, failed, [({"t1": 0, "t2": 0}, 1)])
    assert set(dropped) == {"gone", "unconv", "big", "high", "t1"}
    assert dropped["unconv"] == "relaxation did not converge"
    assert dropped["big"].startswith("volume 150")
    assert dropped["high"].startswith("0.90 eV/atom above the hull")
    assert info["t2"]["e_above_hull"] == 0.1


def test_jobs_go_cheapest_first_with_the_extras_last_within_a_size():
    size = {"big": 8, "small": 2, "extra": 2, "v": 2}
    jobs = [{"parent": p, "split": "val" if p == "v" else "train"} for p in size]
    order = [j["parent"] for j in dataset_recipe._cheapest_first(jobs, {"extra"}, size)]
    assert order == ["v", "small", "extra", "big"]


def test_the_stability_limit_is_raised_for_the_above_hull_iodides_only():
    info = {"zincblende-FeI": _relaxed({"Fe": 1, "I": 1}, 0.0),
            "zincblende-AgI": _relaxed({"Ag": 1, "I": 1}, 0.0)}  # fmt: skip
    ids, hull = ["zincblende-FeI", "zincblende-AgI"], [0.6, 0.6]
    dropped = dataset_recipe._drop_reasons(ids, hull, info, failed={}, tried=[])
    assert list(dropped) == ["zincblende-AgI"]  # 0.6 > 0.5 for any other cell
    assert dataset_recipe.max_e_hull("zincblende-FeI") == dataset_recipe.MAX_E_HULL_IODIDES
    over = dataset_recipe._drop_reasons(ids[:1], [0.71], info, failed={}, tried=[])
    assert over == {"zincblende-FeI": "0.71 eV/atom above the hull > 0.7"}


def test_the_tetrahedral_iodide_snapshot_adds_the_above_hull_iodides_with_their_copies():
    base, snapshot = "full_snapshot_prototypes_all.json", "full_snapshot_tetra_iodides.json"
    added = _added_to_train(base, snapshot, 827, 20)
    spec = _bench_json("dataset", "jobs.json")
    relaxed = _bench_json("dataset", "relaxed.json")
    parent = {j["id"]: j["parent"] for j in spec["jobs"] if j["split"] == "train"}
    cells = dataset_recipe.ABOVE_HULL_IODIDES
    assert {parent[i] for i in added} == set(cells)
    assert sorted(parent[i] for i in added) == sorted(cells * 4)  # 4 copies each
    for cid in cells:  # above the general filter, below the iodides' own
        assert dataset_recipe.MAX_E_HULL < relaxed[cid]["e_above_hull"]
        assert relaxed[cid]["e_above_hull"] <= dataset_recipe.MAX_E_HULL_IODIDES


def test_training_candidates_above_the_hull_are_kept_up_to_their_own_limit():
    info = {c: _relaxed({"Cu": 1, "N": 1}, 0.0) for c in ("t-CuN", "v-CuN", "u-CuN")}
    ids, hull = ["t-CuN", "v-CuN", "u-CuN"], [0.9, 0.9, 1.2]
    train = {"t-CuN", "u-CuN"}  # v-CuN: an evaluation cell, the general filter
    dropped = dataset_recipe._drop_reasons(ids, hull, info, failed={}, tried=[],
                                           train_candidates=train)  # fmt: skip
    assert sorted(dropped) == ["u-CuN", "v-CuN"]
    assert dropped["u-CuN"] == "1.20 eV/atom above the hull > 1.0"
    hull_of = dict(zip(ids, hull, strict=True)) | {"w-CuN": 0.2}
    assert dataset_recipe.above_hull_train(hull_of, dropped, train | {"w-CuN"}) == ["t-CuN"]


def test_the_above_hull_snapshot_adds_one_relaxed_training_candidate_each():
    base, snapshot = "full_snapshot_prototypes_all.json", "full_snapshot_above_hull.json"
    added = _added_train_candidates(base, snapshot, 827, 46)
    relaxed = _bench_json("dataset", "relaxed.json")
    for cid in added:
        e_hull = relaxed[cid]["e_above_hull"]
        assert dataset_recipe.MAX_E_HULL < e_hull <= dataset_recipe.MAX_E_HULL_TRAIN
