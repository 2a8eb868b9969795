"""The per-structure pipeline of a dataset build, shared by every engine.

For one structure (a :class:`Job`):

1. :func:`prepare`: the seeded random perturbation of positions and strain of
   the cell (:mod:`rhocat.data.perturb`);
2. the pw.x runs, which are all that differs between engines: an optional
   ``vc-relax`` with the dataset's protocol, then the ground-truth SCF from
   ``startingpot='atomic'`` with the parameters that later evaluations reuse
   (:func:`compute_entry` runs them here with :func:`rhocat.qe.scf.run_scf`; the
   AiiDA engine through :func:`rhocat.qe.aiida_run.run_many`);
3. :func:`entry_from_runs`: the record, ``ok`` (:func:`finalize`: the density and
   PAW occupations read back, the ACS on the same G vectors) or ``failed`` with
   its reason, with the same metadata (perturbation, relax, timings) whichever
   engine ran pw.x.

The caller writes the record (:func:`rhocat.data.store.write_entry_file`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from rhocat.data.entry import EntryRecord, entry_filename
from rhocat.data.index import IndexRow
from rhocat.data.manifest import Manifest
from rhocat.data.perturb import perturb
from rhocat.data.store import WORK, write_entry_file
from rhocat.errors import RhocatError
from rhocat.units import BOHR_PER_ANGSTROM


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


def input_hash(atoms: Atoms) -> str:
    """Short hash of a structure (numbers, cell and positions rounded to 1e-6 Å)."""
    h = hashlib.sha256()
    h.update(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    h.update(np.round(np.asarray(atoms.cell.array, dtype=np.float64), 6).tobytes())
    h.update(np.round(np.asarray(atoms.positions, dtype=np.float64), 6).tobytes())
    return h.hexdigest()[:16]


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
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.save import read_restart

    family = load_family(family)
    density, becsum = read_restart(result.save_dir, nat=len(structure))
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
    rec.paw = {} if becsum is None else {"becsum": np.asarray(becsum.values)}
    return rec


def prepare(job: Job, manifest: Manifest) -> tuple[Atoms, dict]:
    """Step 1: the structure pw.x runs on (perturbed as the manifest says) and the
    metadata every record starts from (``perturbation``, empty ``timings``)."""
    structure, info = perturb(
        job.atoms,
        job.id,
        sigma_ang=manifest.perturb_ang,
        strain=manifest.strain,
        seed=manifest.seed,
    )
    return structure, {"timings": {}, "perturbation": info}


def relax_summary(relax: Any) -> dict:
    """What a record keeps of a ``vc-relax`` run (energy in Ry, wall time in s)."""
    return {
        "converged": relax.converged,
        "reason": relax.reason,
        "energy_ry": relax.energy_ry,
        "wall_s": relax.wall_s,
    }


def relax_failed_record(job: Job, relax: Any, extra: dict, t_start: float) -> EntryRecord:
    """Step 3 when the ``vc-relax`` failed: a ``failed`` record (no SCF was run)."""
    extra["relax"] = relax_summary(relax)
    extra["timings"]["relax_s"] = relax.wall_s
    extra["timings"]["total_s"] = time.perf_counter() - t_start
    reason = f"vc-relax failed: {relax.reason or 'no final structure'}"
    return failed_record(job, reason, relax, extra)


def entry_from_runs(
    job: Job,
    structure: Atoms,
    scf: Any,
    family: Any,
    extra: dict,
    t_start: float,
) -> EntryRecord:
    """Step 3: the record of a structure whose SCF ran (any engine).

    ``scf`` is a :class:`rhocat.qe.scf.ScfResult` (or an object with its fields)
    whose ``save_dir`` is a local folder; ``structure`` is the structure of the SCF
    (Å); ``extra`` is the metadata so far (from :func:`prepare`, plus ``relax``).
    Adds ``scf_s``, ``pw_wall_s`` and ``total_s`` (since ``t_start``,
    ``time.perf_counter``) to its timings.
    """
    timings = extra.setdefault("timings", {})
    timings["scf_s"] = scf.wall_s
    if scf.pw_wall_s is not None:
        timings["pw_wall_s"] = scf.pw_wall_s
    try:
        if not scf.converged or not scf.save_dir:
            return failed_record(job, scf.reason or "no charge density written", scf, extra)
        return finalize(job, structure, scf, family, extra)
    finally:
        timings["total_s"] = time.perf_counter() - t_start


def compute_entry(job: Job, config: BuildConfig, dataset_dir: str | os.PathLike) -> IndexRow:
    """The whole pipeline for one structure with local pw.x runs; writes its entry file.

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
    extra: dict[str, Any] = {"timings": {}}
    try:
        structure, extra = prepare(job, m)
        common = dict(
            family=m.family,
            protocol=m.protocol,
            ranks=config.ranks,
            timeout_s=config.timeout_s,
            overrides=m.overrides or None,
        )
        if m.relax:
            relax = run_scf(structure, calculation="vc-relax", workdir=work / "relax", **common)
            if not relax.converged or relax.final_atoms is None:
                record = relax_failed_record(job, relax, extra, t_start)
                return write_entry_file(dataset_dir, record)
            extra["relax"] = relax_summary(relax)
            extra["timings"]["relax_s"] = relax.wall_s
            structure = relax.final_atoms
        result = run_scf(
            structure, calculation="scf", start="atomic", workdir=work / "scf", **common
        )
        record = entry_from_runs(job, structure, result, m.family, extra, t_start)
        return write_entry_file(dataset_dir, record)
    except RhocatError as exc:
        extra["timings"]["total_s"] = time.perf_counter() - t_start
        return write_entry_file(
            dataset_dir, failed_record(job, f"{type(exc).__name__}: {exc}", None, extra)
        )
    except Exception as exc:  # a bug must not stop the other structures
        extra["timings"]["total_s"] = time.perf_counter() - t_start
        extra["traceback"] = traceback.format_exc()
        reason = f"internal error {type(exc).__name__}: {exc}"
        return write_entry_file(dataset_dir, failed_record(job, reason, None, extra))
    finally:
        if not config.keep_work:
            shutil.rmtree(work, ignore_errors=True)
