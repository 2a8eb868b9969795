"""Benchmark of the dataset index (prints one JSON object on stdout).

The queries that ``rhocat data`` and the trainer run on a dataset's SQLite
index (count, count by split and status, ids by split and element, the status
map), timed on an index of ``--rows`` rows (default 100,000). Target: the four
queries together under 5 s. (The test ``test_index_scales_to_1e5_rows`` checks
their results; their time is measured here, where a loaded machine cannot make
a test flake.)

Usage: ``python benchmarks/data_index.py [--rows 100000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rhocat.data.index import Index, IndexRow

SPLITS = ["train", "val", "test_binary", "test_ternary"]


def rows(n: int) -> list[IndexRow]:
    """``n`` index rows: four splits, every third without Ga, every tenth failed."""
    return [
        IndexRow(
            id=f"s{i:06d}",
            split=SPLITS[i % 4],
            formula="GaN",
            elements=",Ga,N," if i % 3 else ",Cu,",
            n_atoms=2,
            status="failed" if i % 10 == 0 else "ok",
            reason="",
            n_iterations=9,
            scf_s=1.0,
            total_s=1.1,
            grid_points=1000,
            ngm=100,
            nspin=1,
            file=f"s{i:06d}.h5",
            checksum="x",
        )
        for i in range(n)
    ]


def queries(index: Index) -> int:
    """The four queries; returns a number that depends on all of them."""
    return (
        index.count()
        + index.count(split="train", status="ok")
        + len(index.ids(split="val", elements=["Ga"]))
        + len(index.status_map())
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rhocat-bench-index-") as tmp:
        index = Index(Path(tmp) / "index.sqlite")
        t0 = time.perf_counter()
        index.upsert(rows(args.rows))
        upsert_s = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            check = queries(index)
            times.append(time.perf_counter() - t0)
        index.close()
    result = {
        "rows": args.rows,
        "upsert_s": round(upsert_s, 3),
        "queries_s_median": round(statistics.median(times), 3),
        "queries_s_max": round(max(times), 3),
        "target_s": 5.0,
        "check": check,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
