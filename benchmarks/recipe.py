"""The first benchmark's split and dataset (README, "The benchmark against the paper").

Built with rhocat's own pipeline.

Recipe (deterministic, resumable: re-running reuses finished DFT):
candidates from prototypes for the demo's elements (cells of at most 4 atoms, at
most 2 prototypes per element combination), the paper's split with larger
binary/ternary test sets than the demo's, and ground-truth SCF runs with the
``fast`` protocol at 25 Ry, positions perturbed (σ 0.02 Å) and cells strained
(≤ 2%) as in the paper.

Usage: ``python benchmarks/recipe.py [--out benchmarks/data] [--workers 1 --ranks 2]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rhocat.demo import DEMO_ELEMENTS

SPLIT = {"n_val": 2, "n_train_binary": 30, "n_test_binary": 16, "n_test_ternary": 16}
ECUTWFC = 25.0


def build(out: Path, workers: int = 1, ranks: int = 2) -> Path:
    from rhocat.data.build import BuildConfig, build_dataset, jobs_from_split
    from rhocat.data.engines import make_engine
    from rhocat.data.manifest import dataset_manifest
    from rhocat.split import make_split, summary_table, write_split
    from rhocat.structures import generate_candidates, write_candidates

    out.mkdir(parents=True, exist_ok=True)
    cands = generate_candidates(DEMO_ELEMENTS, max_atoms=4, max_per_system=2)
    write_candidates(cands, out / "candidates")
    split = make_split(cands, seed=0, **SPLIT)
    split_path = write_split(split, out / "split.json")
    print(summary_table(split), file=sys.stderr, flush=True)
    manifest = dataset_manifest(ECUTWFC, perturb_ang=0.02, strain=0.02)
    report = build_dataset(
        jobs_from_split(split_path),
        out / "dataset",
        BuildConfig(manifest=manifest, ranks=ranks, timeout_s=600),
        engine=make_engine("local", workers=workers),
    )
    print(
        json.dumps(
            {
                "done": report.done,
                "skipped": report.skipped,
                "failed": report.failed,
                "wall_s": report.wall_s,
                "failures": report.failures,
            },
            indent=1,
        )
    )
    return out / "dataset"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).with_name("data")))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--ranks", type=int, default=2)
    args = ap.parse_args()
    build(Path(args.out), args.workers, args.ranks)


if __name__ == "__main__":
    main()
