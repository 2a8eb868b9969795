"""Engines: where the per-structure pipeline runs.

An engine takes the jobs still to do and yields one
:class:`~rhocat.data.index.IndexRow` per job as each finishes; the entry file
is already written (atomically) when the row arrives, and
:func:`rhocat.data.build.build_dataset` indexes it.

- :class:`LocalEngine`: a pool of worker processes on this machine, each
  running pw.x with ``ranks`` MPI ranks. A worker whose parent dies (even by
  SIGKILL) interrupts its pw.x run and exits, so nothing keeps running.
- :class:`AiidaEngine`: hands the pw.x runs to :func:`rhocat.qe.aiida_run.run_many`
  (aiida-core, local or a cluster). Options (``computer``, ``code``,
  ``options``, ``daemon``, ...) are passed on to ``run_many``.

Both run the pipeline of :mod:`rhocat.data.pipeline`: the same preparation and
the same record (:func:`rhocat.data.pipeline.entry_from_runs`); only the pw.x
runs differ.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Protocol

from rhocat.data.index import IndexRow
from rhocat.data.pipeline import (
    BuildConfig,
    Job,
    compute_entry,
    entry_from_runs,
    prepare,
)
from rhocat.data.store import WORK, write_entry_file
from rhocat.errors import InputError, RhocatError
from rhocat.qe.runner import kill_child_sessions, proc_stat


class Engine(Protocol):
    """Runs the pipeline on jobs and yields their index rows as they finish."""

    def run(
        self, jobs: Sequence[Job], config: BuildConfig, dataset_dir: Path
    ) -> Iterator[IndexRow]: ...


# --------------------------------------------------------------------- local


#: Seconds a worker whose driver is gone gives its main thread to stop its pw.x run
#: and clean up, before it kills what is left and exits.
ORPHAN_GRACE_S = 2.0


def _started(fields: list[str] | None) -> str | None:
    """The start time (clock ticks after boot) in :func:`~rhocat.qe.runner.proc_stat`'s
    fields, or None."""
    return fields[19] if fields is not None and len(fields) > 19 else None


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks after boot, Linux /proc), or None."""
    return _started(proc_stat(pid))


def _is_gone(pid: int, started: str | None) -> bool:
    """Whether the process ``pid`` that started at ``started`` (:func:`_start_time`;
    None: unknown) has ended: no such pid, a zombie, or the pid now names a process
    started at another time (a pid reused on a busy machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    if started is None:  # no /proc: the pid is all there is to go by
        return False
    fields = proc_stat(pid)  # one reading: the state and the start time of the same process
    return fields is None or fields[0] in ("Z", "X") or _started(fields) != started


#: Set in a worker once its driver is gone: from then on it starts no job.
_ORPHANED = threading.Event()


def _watch_parent(parent_pid: int, started: str | None) -> None:
    """In a worker: stop the work and exit when the driving process is gone."""
    while True:
        time.sleep(0.5)
        if _is_gone(parent_pid, started):
            break
    _ORPHANED.set()
    # KeyboardInterrupt in the main thread makes the pw.x runner kill its process group
    # and the pipeline remove what it half wrote.
    os.kill(os.getpid(), signal.SIGINT)
    deadline = time.monotonic() + ORPHAN_GRACE_S
    while time.monotonic() < deadline:
        time.sleep(0.1)
        # An interrupt that landed inside subprocess.Popen, or a job the main thread took
        # up after it, leaves a pw.x nobody stops: kill it now, not after the grace.
        kill_child_sessions()
    os._exit(1)


def _compute_unless_orphaned(job: Job, config: BuildConfig, dataset_dir: str) -> IndexRow:
    """:func:`compute_entry` in a worker, unless its driver is gone: then no pw.x starts
    (KeyboardInterrupt, as the watch thread's SIGINT)."""
    if _ORPHANED.is_set():
        raise KeyboardInterrupt("the driving process is gone")
    return compute_entry(job, config, dataset_dir)


def _worker_init(parent_pid: int, parent_started: str | None = None) -> None:
    """Make SIGINT an interrupt and watch the driver ``parent_pid``, started at
    ``parent_started`` (:func:`_start_time`, taken by the driver itself: read here, a
    driver already gone could be mistaken for whatever reuses its pid)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    watch = threading.Thread(target=_watch_parent, args=(parent_pid, parent_started), daemon=True)
    watch.start()


class LocalEngine:
    """A pool of ``workers`` processes, each running one structure at a time.

    Args:
        workers: number of structures computed at once (≥ 1).
    """

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise InputError("--workers must be >= 1")
        self.workers = int(workers)

    def run(
        self, jobs: Sequence[Job], config: BuildConfig, dataset_dir: Path
    ) -> Iterator[IndexRow]:
        ctx = multiprocessing.get_context("forkserver")
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, max(1, len(jobs))),
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(os.getpid(), _start_time(os.getpid())),
        )
        pending = list(jobs)[::-1]
        running = {}
        try:
            # Submit no more than the workers can take, so that an interrupted
            # run has not queued (and later finished) work nobody waits for.
            while pending or running:
                while pending and len(running) < self.workers:
                    job = pending.pop()
                    fut = pool.submit(_compute_unless_orphaned, job, config, str(dataset_dir))
                    running[fut] = job
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    job = running.pop(fut)
                    try:
                        row = fut.result()
                    except BrokenProcessPool:
                        raise RhocatError(
                            f"a worker process died while computing {job.id} (out of memory? "
                            "killed?); finished entries are safe: re-run the same command to resume"
                        ) from None
                    yield row
        except BaseException:
            for proc in list(getattr(pool, "_processes", {}).values()):
                try:
                    os.kill(proc.pid, signal.SIGINT)
                except (ProcessLookupError, AttributeError):
                    pass
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


# --------------------------------------------------------------------- AiiDA


class AiidaEngine:
    """Runs the pw.x calculations through AiiDA (:func:`rhocat.qe.aiida_run.run_many`).

    The perturbation and the record are the pipeline's, as in the local engine;
    only the pw.x runs (vc-relax and SCF) go through AiiDA. ``total_s`` of an
    entry counts from the start of the whole batch (AiiDA queues the jobs). Each result
    must be ScfResult-like with a local ``save_dir`` holding
    ``charge-density.dat`` (and ``paw.txt`` for PAW species).

    Args:
        options: keyword arguments passed on to ``run_many`` (computer, code,
            resources, ...).
    """

    def __init__(self, **options):
        self.options = options

    def run(
        self, jobs: Sequence[Job], config: BuildConfig, dataset_dir: Path
    ) -> Iterator[IndexRow]:
        from rhocat.qe import aiida_run as qe_aiida_run
        from rhocat.qe.aiida import require_aiida

        require_aiida()
        m = config.manifest
        t_start = time.perf_counter()
        prepared = {}
        for job in jobs:
            structure, extra = prepare(job, m)
            extra["engine"] = "aiida"
            prepared[job.id] = (job, structure, extra)
        results = qe_aiida_run.run_many(
            [(job_id, structure) for job_id, (_, structure, _) in prepared.items()],
            family=m.family,
            protocol=m.protocol,
            relax=m.relax,
            overrides=m.overrides or None,
            workdir=Path(dataset_dir) / WORK / "aiida",
            ranks=config.ranks,
            timeout_s=config.timeout_s,
            **self.options,
        )
        for job_id, result in results:
            job, structure, extra = prepared[job_id]
            if m.relax:
                extra["relax"] = _aiida_relax_summary(result)
            if result.final_atoms is not None:
                structure = result.final_atoms
            rec = entry_from_runs(job, structure, result, m.family, extra, t_start)
            row = write_entry_file(dataset_dir, rec)
            if result.workdir:
                shutil.rmtree(result.workdir, ignore_errors=True)
            yield row


def _aiida_relax_summary(result) -> dict:
    """The ``relax`` metadata of an AiiDA job: whether the vc-relax gave a structure.

    ``run_many`` reports the SCF; of the relaxation it keeps the final structure
    (or the failure reason), not its energy or time (None here).
    """
    failed = result.reason.startswith("vc-relax failed")
    return {
        "converged": result.final_atoms is not None and not failed,
        "reason": result.reason if failed else "",
        "energy_ry": None,
        "wall_s": None,
    }


def make_engine(name: str, workers: int = 1, **options) -> Engine:
    """``local`` or ``aiida``."""
    if name == "local":
        return LocalEngine(workers=workers)
    if name == "aiida":
        return AiidaEngine(**options)
    raise InputError(f"unknown engine {name!r}: choose local or aiida")
