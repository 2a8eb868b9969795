"""Build a density dataset: perturb, (vc-)relax, ground-truth SCF, store.

Per structure, the pipeline of :mod:`rhocat.data.pipeline` (perturb, optional
``vc-relax``, ground-truth SCF from ``startingpot='atomic'``, the entry with its
ACS), run by an engine (:mod:`rhocat.data.engines`).

A run that does not converge (or crashes, or times out) is stored as a
``failed`` entry with its reason, and the build goes on. :func:`build_dataset`
drives an :class:`~rhocat.data.engines.Engine` over the structures still to do,
updates the index as results arrive and shows a progress bar. Re-running the
same command resumes: finished entries are skipped, failed ones are retried
only with ``retry_failed``.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rhocat.data.engines import LocalEngine
from rhocat.data.index import IndexRow
from rhocat.data.pipeline import BuildConfig, Job, compute_entry, input_hash
from rhocat.data.store import Dataset
from rhocat.errors import InputError

__all__ = [
    "BuildConfig",
    "BuildReport",
    "DatasetLock",
    "Job",
    "build_dataset",
    "compute_entry",
    "jobs_from_split",
    "select_jobs",
]


@dataclass
class BuildReport:
    """What :func:`build_dataset` did (counts of structures, wall time in s)."""

    requested: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    wall_s: float = 0.0
    reconciled: dict = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------- the driver


class DatasetLock:
    """An exclusive lock on a dataset directory (released by the OS if the process dies)."""

    def __init__(self, directory: Path):
        self.path = Path(directory) / ".lock"
        self._fh = None

    def __enter__(self) -> DatasetLock:
        self._fh = open(self.path, "a")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise InputError(
                f"{self.path.parent}: another `rhocat dft run` is writing to this dataset"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


def select_jobs(
    jobs: Sequence[Job], only: Iterable[str] | None = None, limit: int | None = None
) -> list[Job]:
    """Keep the jobs of the named splits (in input order), then the first ``limit``."""
    jobs = list(jobs)
    seen = set()
    for job in jobs:
        if job.id in seen:
            raise InputError(f"structure id {job.id!r} appears twice in the input")
        seen.add(job.id)
    if only:
        only = [s.strip() for s in only if s.strip()]
        available = sorted({j.split for j in jobs})
        unknown = [s for s in only if s not in available]
        if unknown:
            raise InputError(
                f"unknown split(s) {', '.join(unknown)}; the input has: {', '.join(available)}"
            )
        jobs = [j for j in jobs if j.split in only]
    if limit is not None:
        if limit < 0:
            raise InputError("--limit must be >= 0")
        jobs = jobs[:limit]
    return jobs


def _check_inputs_match(ds: Dataset, jobs: Sequence[Job]) -> None:
    """Entries already in the dataset must come from the same input structures."""
    known = ds.index.input_hashes()
    mismatched = [j.id for j in jobs if known.get(j.id) and known[j.id] != input_hash(j.atoms)]
    if mismatched:
        shown = ", ".join(mismatched[:5]) + (" ..." if len(mismatched) > 5 else "")
        raise InputError(
            f"{ds.path}: {len(mismatched)} entries were built from different structures with "
            f"the same id ({shown}); use another output directory"
        )


def build_dataset(
    jobs: Sequence[Job],
    out_dir: str | os.PathLike,
    config: BuildConfig,
    *,
    engine: Any = None,
    retry_failed: bool = False,
    progress: bool = True,
    on_row: Callable[[IndexRow], None] | None = None,
) -> BuildReport:
    """Compute and store every job not yet in the dataset at ``out_dir``.

    Args:
        jobs: structures to compute (see :func:`select_jobs`, :func:`jobs_from_split`).
        out_dir: dataset directory (created; must hold the same dataset if it exists).
        config: settings; ``config.manifest`` must match the dataset's.
        engine: an :class:`~rhocat.data.engines.Engine` (default: a one-worker
            :class:`~rhocat.data.engines.LocalEngine`).
        retry_failed: recompute entries recorded as failed.
        progress: show a tqdm progress bar (stderr).
        on_row: called with each new index row (after it is indexed).
    """
    from rhocat.qe.pseudo import load_family

    t0 = time.perf_counter()
    family = load_family(config.manifest.family)
    family.require(sorted({s for j in jobs for s in j.atoms.get_chemical_symbols()}))
    engine = engine or LocalEngine(workers=1)
    report = BuildReport(requested=len(jobs))
    out = Path(out_dir)
    ds = Dataset.create(out, config.manifest)
    try:
        with DatasetLock(out):
            report.reconciled = ds.reconcile()
            _check_inputs_match(ds, jobs)
            status = ds.index.status_map()
            todo = [
                j for j in jobs if j.id not in status or (retry_failed and status[j.id] != "ok")
            ]
            report.skipped = len(jobs) - len(todo)
            if todo:
                _run(engine, todo, config, ds, report, progress, on_row)
    finally:
        ds.close()
    report.wall_s = time.perf_counter() - t0
    return report


def _run(engine, todo, config, ds, report, progress, on_row) -> None:
    from tqdm import tqdm

    bar = tqdm(
        total=len(todo),
        unit="structure",
        disable=not progress,
        desc="dft",
        dynamic_ncols=True,
    )
    try:
        for row in engine.run(todo, config, ds.path):
            ds.add_rows([row])
            if row.status == "ok":
                report.done += 1
            else:
                report.failed += 1
                report.failures[row.id] = row.reason
            bar.set_postfix(done=report.done, failed=report.failed, refresh=False)
            bar.update(1)
            if on_row is not None:
                on_row(row)
    finally:
        bar.close()


# --------------------------------------------------------------------- inputs


def jobs_from_split(path: str | os.PathLike) -> list[Job]:
    """Jobs from a split file written by ``rhocat split`` (all splits but ``dropped``).

    Every structure file the split names must exist; the error lists the
    missing ones.
    """
    from rhocat.split import load_split_structures, read_split

    split = read_split(path)
    missing = [
        a.id
        for a in split.assignments
        if a.split != "dropped"
        and (a.structure_path is None or not Path(a.structure_path).is_file())
    ]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise InputError(
            f"{path}: {len(missing)} structure file(s) named in the split are missing ({shown})"
        )
    return [Job(id=i, split=s, atoms=a) for i, s, a in load_split_structures(path)]
