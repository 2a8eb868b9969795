"""Build a density dataset: perturb, (vc-)relax, ground-truth SCF, store.

Per structure (:func:`compute_entry`, run inside a worker):

1. optional seeded random perturbation of positions and strain of the cell
   (:mod:`rhocat.data.perturb`);
2. optional ``vc-relax`` with the dataset's protocol;
3. the ground-truth SCF from ``startingpot='atomic'`` with the parameters that
   later evaluations reuse (stored in full with the entry);
4. :func:`finalize`: read the density (and PAW occupations), compute the ACS
   on the same G vectors, write the entry file atomically.

A run that does not converge (or crashes, or times out) is stored as a
``failed`` entry with its reason, and the build goes on. :func:`build_dataset`
drives an :class:`~rhocat.data.engines.Engine` over the structures still to do,
updates the index as results arrive and shows a progress bar. Re-running the
same command resumes: finished entries are skipped, failed ones are retried
only with ``retry_failed``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from rhocat.data.entry import EntryRecord, entry_filename
from rhocat.data.index import IndexRow
from rhocat.data.manifest import Manifest
from rhocat.data.perturb import perturb
from rhocat.data.store import WORK, Dataset, write_entry_file
from rhocat.errors import InputError, RhocatError

BOHR_PER_ANGSTROM = 1.0 / 0.529177210903


@dataclass
class Job:
    """One structure to compute: its id, split and input structure (Å)."""

    id: str
    split: str
    atoms: Atoms


@dataclass
class BuildConfig:
    """How each structure is computed.

    Attributes:
        manifest: the dataset settings (protocol, family, relax, perturbation,
            pw.x overrides).
        ranks: MPI ranks of each pw.x run.
        timeout_s: wall-clock limit of each pw.x run (None: none), s.
        keep_work: keep each structure's pw.x work folder (debugging).
    """

    manifest: Manifest
    ranks: int = 1
    timeout_s: float | None = None
    keep_work: bool = False


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


def input_hash(atoms: Atoms) -> str:
    """Short hash of a structure (numbers, cell and positions rounded to 1e-6 Å)."""
    h = hashlib.sha256()
    h.update(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    h.update(np.round(np.asarray(atoms.cell.array, dtype=np.float64), 6).tobytes())
    h.update(np.round(np.asarray(atoms.positions, dtype=np.float64), 6).tobytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------- per structure


def _structure_arrays(atoms: Atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.asarray(atoms.numbers, dtype=np.int32),
        np.asarray(atoms.positions, dtype=np.float64) * BOHR_PER_ANGSTROM,
        np.asarray(atoms.cell.array, dtype=np.float64) * BOHR_PER_ANGSTROM,
    )


def _base_record(job: Job, status: str, reason: str, meta: dict) -> EntryRecord:
    n, p, c = _structure_arrays(job.atoms)
    meta = dict(meta)
    meta["input_hash"] = input_hash(job.atoms)
    return EntryRecord(
        id=job.id,
        split=job.split,
        status=status,
        reason=reason,
        initial_numbers=n,
        initial_positions_bohr=p,
        initial_cell_bohr=c,
        meta=meta,
    )


def _result_meta(result: Any) -> dict:
    d = result.to_dict() if hasattr(result, "to_dict") else dict(vars(result))
    keep = (
        "converged",
        "iterations",
        "energy_ry",
        "fermi_energy_ev",
        "band_gap_ev",
        "n_electrons",
        "fft_grid",
        "parameters",
        "pseudos",
        "qe_version",
        "start",
    )
    return {k: d.get(k) for k in keep}


def failed_record(
    job: Job, reason: str, result: Any = None, extra: dict | None = None
) -> EntryRecord:
    """A ``failed`` entry: the reason, pw.x's output tail and SCF history when known."""
    meta = dict(extra or {})
    if result is not None:
        meta.update(_result_meta(result))
        meta["output_tail"] = getattr(result, "output_tail", "")
    rec = _base_record(job, "failed", reason, meta)
    if result is not None:
        rec.accuracy_ry = list(getattr(result, "scf_accuracy_ry", []) or [])
        rec.energies_ry = list(getattr(result, "energies_ry", []) or [])
    return rec


def finalize(
    job: Job,
    structure: Atoms,
    result: Any,
    family: Any,
    extra: dict | None = None,
) -> EntryRecord:
    """Turn a converged ground-truth run into an ``ok`` entry record.

    ``result`` is a :class:`rhocat.qe.scf.ScfResult` or any object with the
    same fields whose ``save_dir`` is a local folder holding
    ``charge-density.dat`` (and ``paw.txt`` for PAW species): the local and
    the AiiDA engines both end here. ``structure`` is the structure of the
    SCF (Å); ``extra`` is added to the metadata (timings, perturbation, relax).
    """
    from rhocat.qe.acs import acs_rho_g
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.pseudo import load_family

    family = load_family(family)
    save = Path(result.save_dir)
    density = read_charge_density(save / "charge-density.dat")
    t0 = time.perf_counter()
    acs = np.asarray(acs_rho_g(structure, family, density.miller))
    acs_s = time.perf_counter() - t0
    meta = dict(extra or {})
    meta.update(_result_meta(result))
    meta.setdefault("timings", {})["acs_s"] = acs_s
    if meta.get("fft_grid") is not None:
        meta["fft_grid"] = [int(n) for n in meta["fft_grid"]]
    rec = _base_record(job, "ok", "", meta)
    rec.numbers, rec.positions_bohr, rec.cell_bohr = _structure_arrays(structure)
    rec.miller = density.miller
    rec.rho_g = density.rho_g
    rec.rho_acs_g = acs
    rec.b = density.b
    rec.gamma_only = density.gamma_only
    rec.accuracy_ry = list(result.scf_accuracy_ry)
    rec.energies_ry = list(result.energies_ry)
    rec.paw = _read_paw(save, len(structure), density.rho_g.shape[0])
    return rec


def _read_paw(save: Path, nat: int, nspin: int) -> dict[str, np.ndarray]:
    """PAW on-site occupations of a ``.save`` folder ({} without paw.txt).

    Returns ``{"becsum": (nspin, nat, nhm*(nhm+1)/2) array}`` (electrons), see
    :class:`rhocat.qe.paw.Becsum`.
    """
    path = save / "paw.txt"
    if not path.is_file():
        return {}
    from rhocat.qe.paw import read_paw_txt

    return {"becsum": np.asarray(read_paw_txt(path, nat=nat, nspin=nspin).values)}


def compute_entry(job: Job, config: BuildConfig, dataset_dir: str | os.PathLike) -> IndexRow:
    """Run the whole pipeline for one structure and write its entry file.

    Returns the index row (the caller adds it to the index). Never raises for
    a pw.x failure: those become ``failed`` entries. Unexpected exceptions
    are recorded as failed entries too (with the traceback in the metadata).
    """
    from rhocat.qe.scf import run_scf

    m = config.manifest
    t_start = time.perf_counter()
    work = (
        Path(dataset_dir) / WORK / f"{entry_filename(job.id)[:-3]}-{os.getpid()}-{time.time_ns()}"
    )
    timings: dict[str, float] = {}
    extra: dict[str, Any] = {"timings": timings}
    try:
        structure, extra["perturbation"] = perturb(
            job.atoms, job.id, sigma_ang=m.perturb_ang, strain=m.strain, seed=m.seed
        )
        common = dict(
            family=m.family,
            protocol=m.protocol,
            ranks=config.ranks,
            timeout_s=config.timeout_s,
            overrides=m.overrides or None,
        )
        if m.relax:
            relax = run_scf(structure, calculation="vc-relax", workdir=work / "relax", **common)
            timings["relax_s"] = relax.wall_s
            extra["relax"] = {
                "converged": relax.converged,
                "reason": relax.reason,
                "energy_ry": relax.energy_ry,
                "wall_s": relax.wall_s,
            }
            if not relax.converged or relax.final_atoms is None:
                timings["total_s"] = time.perf_counter() - t_start
                reason = f"vc-relax failed: {relax.reason or 'no final structure'}"
                return write_entry_file(dataset_dir, failed_record(job, reason, relax, extra))
            structure = relax.final_atoms
        result = run_scf(
            structure, calculation="scf", start="atomic", workdir=work / "scf", **common
        )
        timings["scf_s"] = result.wall_s
        if result.pw_wall_s is not None:
            timings["pw_wall_s"] = result.pw_wall_s
        if not result.converged or not result.save_dir:
            timings["total_s"] = time.perf_counter() - t_start
            reason = result.reason or "no charge density written"
            return write_entry_file(dataset_dir, failed_record(job, reason, result, extra))
        record = finalize(job, structure, result, m.family, extra)
        timings["total_s"] = time.perf_counter() - t_start
        return write_entry_file(dataset_dir, record)
    except RhocatError as exc:
        timings["total_s"] = time.perf_counter() - t_start
        return write_entry_file(
            dataset_dir, failed_record(job, f"{type(exc).__name__}: {exc}", None, extra)
        )
    except Exception as exc:  # a bug must not stop the other structures
        timings["total_s"] = time.perf_counter() - t_start
        extra["traceback"] = traceback.format_exc()
        reason = f"internal error {type(exc).__name__}: {exc}"
        return write_entry_file(dataset_dir, failed_record(job, reason, None, extra))
    finally:
        if not config.keep_work:
            shutil.rmtree(work, ignore_errors=True)


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
    from rhocat.data.engines import LocalEngine
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
