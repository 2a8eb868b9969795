"""rhocat.data.manifest: the one manifest of the demo and the benchmark datasets."""

from __future__ import annotations

from pathlib import Path

from rhocat.data.manifest import dataset_manifest, read_manifest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "dataset" / "dataset"


def test_the_benchmark_recipe_manifest_is_the_committed_one():
    """`python benchmarks/dataset_recipe.py --stage dft` resumes only on an equal manifest."""
    ours = dataset_manifest(25.0, perturb_ang=0.02, strain=0.02, storage="compact")
    committed = read_manifest(BENCHMARK)
    assert committed.differences(ours) == [] and committed.identity() == ours.identity()


def test_ecutrho_follows_the_cutoff_rule_and_none_leaves_the_family_cutoffs():
    m = dataset_manifest(20.0, perturb_ang=0.03, strain=0.01, seed=4)
    assert m.overrides == {"system": {"ecutwfc": 20.0, "ecutrho": 160.0}}
    assert (m.protocol, m.family, m.relax, m.storage) == ("fast", "debian-pbe", False, "full")
    assert (m.perturb_ang, m.strain, m.seed) == (0.03, 0.01, 4)
    assert dataset_manifest(None).overrides == {"system": {}}
