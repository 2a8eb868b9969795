"""Evaluate a model: for each dataset structure, pw.x from the ACS and from the prediction.

Per structure (:func:`evaluate_entry`):

1. the structure and the *exact* pw.x parameters of its ground-truth run are
   read from the dataset entry (:func:`reproduction_problems` refuses entries
   that cannot be reproduced: no stored parameters, other pseudopotential
   files, spin-polarised or non-SCF runs);
2. the prediction is written as a restart folder by
   :func:`rhocat.predict.predict_restart` (which sees only the structure, the
   pseudopotentials, the cutoff and the model);
3. pw.x runs twice in this same process, with the same parameters: from its
   own atomic start (the ACS baseline, re-measured here because timings of
   another machine or day are not comparable) and from the prediction;
4. the row records s-AUC, iterations saved, energy and band-gap differences,
   density MAE/NMAE against the ground truth, timings, the net wall-clock
   saving, and small density projections for the report.

Times are seconds, energies Ry, band gaps eV, densities e/bohr³.
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import shutil
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from rhocat.errors import InputError, ModelError, RhocatError
from rhocat.evaluate.metrics import iterations_saved, mae, nmae, s_auc, wall_clock_saving
from rhocat.evaluate.results import ResultsDir, file_sha256, load_rows, write_json_atomic
from rhocat.evaluate.row import EvalRow
from rhocat.evaluate.tables import summarize, to_markdown
from rhocat.units import BOHR_PER_ANGSTROM

#: Largest side of the density projections stored in a row (for Figure 3).
PROJECTION_MAX = 48
WORK = "work"


def model_checksum(model, model_path: str | os.PathLike | None = None) -> str:
    """SHA-256 of the checkpoint file, or of the in-memory model's state when there is none."""
    if model_path is not None:
        return file_sha256(model_path)
    h = hashlib.sha256(type(model).__qualname__.encode())
    state = getattr(model, "state_dict", None)
    if callable(state):
        import torch

        for k, v in state().items():
            h.update(k.encode())
            h.update(v.detach().cpu().numpy().tobytes() if isinstance(v, torch.Tensor) else b"")
        h.update(repr(sorted(getattr(model, "config", {}).items())).encode())
    else:
        h.update(pickle.dumps(getattr(model, "__dict__", repr(model)), protocol=4))
    return h.hexdigest()


def sample_atoms(sample) -> Atoms:
    """ASE Atoms (Å) of a :class:`rhocat.data.sample.DensitySample`."""
    return Atoms(
        numbers=np.asarray(sample.numbers),
        positions=np.asarray(sample.positions_bohr) / BOHR_PER_ANGSTROM,
        cell=np.asarray(sample.cell_bohr) / BOHR_PER_ANGSTROM,
        pbc=True,
    )


def reproduction_problems(meta: dict, family) -> list[str]:
    """Why the ground-truth run of an entry cannot be repeated exactly ([] when it can).

    Args:
        meta: the entry's metadata (``parameters``, ``pseudos``).
        family: the :class:`rhocat.qe.pseudo.PseudoFamily` of the dataset.
    """
    problems = []
    params = meta.get("parameters")
    if not isinstance(params, dict) or not params.get("system"):
        return ["the pw.x parameters of its ground-truth run are not stored"]
    system = params.get("system", {})
    if "ecutrho" not in system or "ecutwfc" not in system:
        problems.append("its stored parameters lack ecutwfc/ecutrho")
    calc = params.get("control", {}).get("calculation", "scf")
    if calc != "scf":
        problems.append(f"its ground-truth run is a {calc!r} calculation, not an SCF")
    if int(system.get("nspin", 1)) != 1:
        problems.append(f"its ground-truth run is spin-polarised (nspin={system['nspin']})")
    if "k_points" not in params:
        problems.append("its stored parameters lack the k-point mesh")
    for element, info in (meta.get("pseudos") or {}).items():
        md5 = (info or {}).get("md5")
        try:
            now = family[element].md5
        except RhocatError:
            problems.append(f"the pseudopotential family has no file for {element}")
            continue
        if md5 and md5 != now:
            problems.append(
                f"{element}: the ground-truth run used {info.get('file')} (md5 {md5[:8]}), "
                f"the family now has {family[element].filename} (md5 {now[:8]})"
            )
    if not meta.get("pseudos"):
        problems.append("the pseudopotential files of its ground-truth run are not recorded")
    return problems


def _grid_from(miller: np.ndarray, rho_g: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    from rhocat.qe.fft import g_to_grid

    return g_to_grid(rho_g, miller, shape)


def _projection(grid: np.ndarray, axis: int = 2) -> np.ndarray:
    """Sum along ``axis`` (e/bohr³ × points), block-averaged to at most PROJECTION_MAX a side."""
    proj = grid.sum(axis=axis)
    for ax in (0, 1):
        n = proj.shape[ax]
        if n > PROJECTION_MAX:
            k = math.ceil(n / PROJECTION_MAX)
            m = (n // k) * k
            proj = np.take(proj, np.arange(m), axis=ax)
            new = list(proj.shape)
            new[ax] = m // k
            new.insert(ax + 1, k)
            proj = proj.reshape(new).mean(axis=ax + 1)
    return proj


def _round(a: np.ndarray, digits: int = 5) -> list:
    return np.vectorize(lambda x: float(f"{x:.{digits}g}"))(a).tolist()


def _scf_summary(result) -> dict:
    d = result.to_dict()
    keep = (
        "converged",
        "iterations",
        "scf_accuracy_ry",
        "energy_ry",
        "fermi_energy_ev",
        "band_gap_ev",
        "n_electrons",
        "wall_s",
        "pw_wall_s",
        "reason",
        "qe_version",
    )
    out = {k: d.get(k) for k in keep}
    if not result.converged:
        out["output_tail"] = d.get("output_tail", "")
    return out


def _diff(a, b):
    return None if a is None or b is None else float(a) - float(b)


def evaluate_entry(
    model,
    sample,
    family,
    work: Path,
    *,
    ranks: int | None = 1,
    timeout_s: float | None = None,
    allow_unseen: bool = False,
    pw_file_threshold: bool = False,
    scf: Callable | None = None,
) -> dict:
    """Evaluate one structure; returns its row (:meth:`EvalRow.to_dict`, JSON-ready).

    Args:
        model: the density model.
        sample: the :class:`rhocat.data.sample.DensitySample` (structure, ground truth,
            ``meta['parameters']`` of the ground-truth run).
        family: the dataset's pseudopotential family.
        work: scratch folder for this structure (pw.x runs, the restart).
        ranks, timeout_s: for each pw.x run.
        pw_file_threshold: False (default): the warm run gets the first diagonalization
            threshold the prediction asks for (:func:`rhocat.predict.core.first_threshold`:
            the model card's, as ``rhocat scf --start`` and the ASE and AiiDA warm starts
            use it; a zero model whose card says 1e-2 replays the baseline exactly).
            True: pw.x's own threshold for a density read from file (1e-5), as a plain
            pw.x restart (and the paper's evaluation) has it. The same holds for
            ``startingwfc``: the prediction's (:func:`rhocat.predict.core.warm_startingwfc`)
            or pw.x's own 'atomic+random'.
        scf: what runs each pw.x SCF, with :func:`rhocat.qe.scf.run_scf`'s arguments
            (default: it; :class:`rhocat.evaluate.aiida_engine.AiidaScf` for AiiDA).
    """
    from rhocat.predict import predict_restart
    from rhocat.qe.scf import PW_STARTINGWFC, run_scf

    meta = sample.meta
    problems = reproduction_problems(meta, family)
    if problems:
        raise InputError(f"entry {sample.id} cannot be reproduced: {'; '.join(problems)}")
    params = meta["parameters"]
    atoms = sample_atoms(sample)

    # 1. prediction (structure + pseudopotentials + cutoff + model only)
    pred = predict_restart(
        model,
        atoms,
        family=family,
        out_dir=work / "start",
        allow_unseen=allow_unseen,
        ecutrho_ry=float(params["system"]["ecutrho"]),
        name=sample.id,
        overwrite=True,  # rhocat's own scratch folder (kept with --keep-work, then retried)
    )
    # 2. both SCFs, same parameters, same process: baseline first, then the warm start
    runs = _PairedRuns(scf or run_scf, atoms, family, params, work, ranks, timeout_s)
    base = runs.baseline()
    warm_thr = _warm_first_threshold(params, pw_file_threshold, pred.diago_thr_init)
    # pw.x's own startingwfc as a plain restart has it, else the prediction's if it names one
    warm_wfc = PW_STARTINGWFC if pw_file_threshold else (pred.startingwfc or PW_STARTINGWFC)
    warm = runs.warm(pred.restart_dir, warm_thr, warm_wfc)
    # 3. density errors against the ground truth, on the reference FFT grid
    grids = _density_grids(sample, pred.restart_dir, len(atoms))
    warm_settings = (warm_thr, warm_wfc)
    return _entry_row(sample, atoms, pred, base, warm, grids, ranks, warm_settings).to_dict()


def _warm_first_threshold(params: dict, pw_file_threshold: bool, predicted: float) -> float:
    """pw.x's first diagonalization threshold for the warm run: one stored in the entry's
    parameters as it is, else pw.x's file value (``pw_file_threshold``) or the one the
    prediction asks for (``predicted``)."""
    from rhocat.qe.scf import FILE_DIAGO_THR_INIT

    warm_thr = params.get("electrons", {}).get("diago_thr_init")
    if warm_thr is None:
        warm_thr = FILE_DIAGO_THR_INIT if pw_file_threshold else predicted
    return float(warm_thr)


class _PairedRuns:
    """The two pw.x SCFs of one structure, with the same parameters and run options:
    from pw.x's atomic start (``work/acs``) and from a restart folder (``work/warm``)."""

    def __init__(self, scf: Callable, atoms: Atoms, family, params: dict, work: Path,
                 ranks: int | None, timeout_s: float | None):  # fmt: skip
        self.scf, self.atoms, self.work = scf, atoms, work
        self.options = {"family": family, "parameters": params, "ranks": ranks,
                        "timeout_s": timeout_s}  # fmt: skip

    def baseline(self):
        """pw.x from its own atomic start (the ACS)."""
        return self.scf(self.atoms, start="atomic", workdir=self.work / "acs", **self.options)

    def warm(self, restart_dir, diago_thr_init: float, startingwfc: str):
        """pw.x from the predicted restart folder, first diagonalization threshold and
        ``startingwfc`` given."""
        electrons = {"diago_thr_init": diago_thr_init, "startingwfc": startingwfc}
        return self.scf(
            self.atoms,
            start=restart_dir,
            workdir=self.work / "warm",
            overrides={"electrons": electrons},
            **self.options,
        )


def _density_grids(sample, restart_dir, nat: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true, predicted, ACS) ρ(r) in e/bohr³ on the reference run's FFT grid."""
    from rhocat.qe.save import read_restart

    predicted, _ = read_restart(restart_dir, nat=nat)
    shape = tuple(int(n) for n in sample.fft_grid)
    true_r = _grid_from(sample.miller, np.asarray(sample.rho_g)[0], shape)
    pred_r = _grid_from(predicted.miller, predicted.rho_g[0], shape)
    acs_r = _grid_from(sample.miller, np.asarray(sample.rho_acs_g), shape)
    return true_r, pred_r, acs_r


def _entry_row(
    sample, atoms: Atoms, pred, base, warm, grids, ranks: int | None, warm_settings: tuple
) -> EvalRow:
    """The row of one structure from its prediction, its two SCFs (with ``ranks`` each,
    the warm one with ``warm_settings`` = (first threshold, startingwfc)) and its density
    grids."""
    warm_thr, warm_wfc = warm_settings
    meta = sample.meta
    true_r, pred_r, acs_r = grids
    both = base.converged and warm.converged
    row = EvalRow(
        id=sample.id,
        split=sample.split,
        formula=meta.get("formula") or atoms.get_chemical_formula(),
        n_atoms=len(atoms),
        status="ok",
        converged=both,
        **_scf_comparison(base, warm, pred, meta),
        mae=mae(pred_r, true_r),
        nmae=nmae(pred_r, true_r),
        mae_acs=mae(acs_r, true_r),
        nmae_acs=nmae(acs_r, true_r),
        prediction_s=pred.total_s,
        model_s=pred.inference_s,
        scf_s=warm.wall_s,
        baseline_scf_s=base.wall_s,
        becsum_source=pred.becsum_source,
        uncertainty=pred.uncertainty,
        shrink=pred.shrink,
        negative_fraction=pred.negative_fraction,
        clipped_fraction=pred.clipped_fraction,
        ranks=ranks,
        warm_diago_thr_init=warm_thr,
        warm_startingwfc=warm_wfc,
        baseline=_scf_summary(base),
        learned=_scf_summary(warm),
        reference=_reference(meta),
        baseline_matches_reference=bool(base.iterations == meta.get("iterations")),
        projection={
            "axis": 2,
            "true": _round(_projection(true_r)),
            "predicted": _round(_projection(pred_r)),
        },
    )
    if not both:
        row.reason = "; ".join(
            f"{name}: {r.reason}"
            for name, r in (("ACS start", base), ("learned start", warm))
            if not r.converged
        )
    return row


def _scf_comparison(base, warm, pred, meta: dict) -> dict:
    """The row's figures that compare the warm run with the baseline (None where a run
    did not converge): s-AUC, iterations saved, energy (Ry) and gap (eV) differences,
    the energy against the reference run and the net wall-clock saving."""
    both = base.converged and warm.converged
    has_history = bool(base.scf_accuracy_ry and warm.scf_accuracy_ry)
    return {
        "s_auc": s_auc(base.scf_accuracy_ry, warm.scf_accuracy_ry) if has_history else None,
        "iterations_saved": iterations_saved(base.iterations, warm.iterations) if both else None,
        "energy_diff_ry": _diff(warm.energy_ry, base.energy_ry) if both else None,
        "band_gap_diff_ev": _diff(warm.band_gap_ev, base.band_gap_ev) if both else None,
        "energy_diff_vs_reference_ry": _diff(warm.energy_ry, meta.get("energy_ry")),
        "wall_clock_saving": wall_clock_saving(base.wall_s, pred.total_s, warm.wall_s)
        if both and base.wall_s > 0
        else None,
    }


def _reference(meta: dict) -> dict:
    """The dataset's ground-truth run, as the row records it."""
    return {
        "iterations": meta.get("iterations"),
        "scf_accuracy_ry": list(meta.get("scf_accuracy_ry") or []),
        "energy_ry": meta.get("energy_ry"),
        "band_gap_ev": meta.get("band_gap_ev"),
        "scf_s": (meta.get("timings") or {}).get("scf_s"),
        "qe_version": meta.get("qe_version"),
    }


def _failed_row(sample_id: str, split: str, exc: BaseException) -> dict:
    return {
        "id": sample_id,
        "split": split,
        "status": "failed",
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": traceback.format_exc() if not isinstance(exc, RhocatError) else None,
    }


def _worker(args: tuple) -> dict:
    """Process-pool entry: evaluate one id of a dataset (the model is pickled in)."""
    model, dataset_path, entry_id, work, kwargs = args
    kwargs = dict(kwargs)
    keep_work = kwargs.pop("keep_work", False)
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family

    ds = Dataset(dataset_path)
    try:
        family = load_family(ds.manifest.family)
        sample = ds.load(entry_id)
        return evaluate_entry(model, sample, family, Path(work), **kwargs)
    except Exception as exc:  # recorded, the others go on
        return _failed_row(entry_id, ds.row(entry_id).split, exc)
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
        ds.close()


def _check_entries(ds, todo, model, family, allow_unseen: bool) -> None:
    """Every selected entry is known to the model and reproducible, or an error."""
    from rhocat.data.entry import read_attrs

    check = getattr(model, "check_elements", None)
    for entry_id in todo:
        row = ds.row(entry_id)
        if check is not None:
            try:
                check(row.element_list, allow_unseen=allow_unseen)
            except ModelError as exc:
                raise ModelError(f"entry {entry_id}: {exc}") from None
        problems = reproduction_problems(read_attrs(ds.file_of(entry_id))["meta"], family)
        if problems:
            raise InputError(f"entry {entry_id} cannot be reproduced: {'; '.join(problems)}")


def evaluate(
    model,
    dataset,
    out_dir: str | os.PathLike,
    *,
    model_path: str | os.PathLike | None = None,
    splits: Sequence[str] | None = ("test_binary", "test_ternary"),
    ids: Sequence[str] | None = None,
    workers: int = 1,
    ranks: int | None = 1,
    timeout_s: float | None = None,
    allow_unseen: bool = False,
    retry_failed: bool = False,
    keep_work: bool = False,
    pw_file_threshold: bool = False,
    progress: bool = True,
    on_row: Callable[[dict], None] | None = None,
    engine: str = "local",
    aiida: dict | None = None,
) -> dict:
    """Evaluate ``model`` on a dataset's structures; resumable; returns the summary.

    Args:
        model: density model (see :func:`rhocat.predict.predict_restart`).
        dataset: a :class:`rhocat.data.store.Dataset` or its path.
        out_dir: results folder (one JSON per structure; bound to the model's checksum).
        model_path: checkpoint file (its SHA-256 identifies the model).
        splits: splits to evaluate (None: all); ignored when ``ids`` is given.
        workers: structures evaluated at the same time (each runs pw.x with ``ranks``).
        timeout_s: limit of each pw.x run, s.
        allow_unseen: evaluate structures with elements the model never saw.
        retry_failed: redo structures whose row is ``failed`` (finished ones are skipped).
        pw_file_threshold: see :func:`evaluate_entry`.
        engine: ``local`` (pw.x in this process) or ``aiida`` (each SCF a
            ``PwBaseWorkChain``, see :mod:`rhocat.evaluate.aiida_engine`; one
            structure at a time, ``workers`` must be 1; the rows are the same).
        aiida: keyword arguments of :class:`rhocat.evaluate.aiida_engine.AiidaScf`
            (profile, computer, code, options, daemon).

    Raises:
        InputError: the results folder belongs to another model; an entry cannot be
            reproduced; no structure selected; an unknown engine.
        ModelError: the model lacks an element of a selected structure.
    """
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family

    _check_options(engine, workers, ranks, timeout_s)
    ds = dataset if isinstance(dataset, Dataset) else Dataset(dataset)
    family = load_family(ds.manifest.family)
    ids = _selected_ids(ds, ids, splits)
    new_folder = not Path(out_dir).exists()
    info = {
        "model": str(model_path) if model_path else type(model).__name__,
        "dataset": str(ds.path),
        "family": family.name,
        "workers": workers,
        "ranks": ranks,
        "engine": engine,
    }
    settings = {"pw_file_threshold": pw_file_threshold, "dataset": str(ds.path.resolve())}
    results = ResultsDir(out_dir, model_checksum(model, model_path), info, settings=settings)
    todo = [i for i in ids if not results.has(i, ok_only=retry_failed)]

    # check every selected entry before any pw.x run: clear errors, nothing half done
    try:
        _check_entries(ds, todo, model, family, allow_unseen)
    except BaseException:
        if new_folder:  # a refused evaluation leaves no results folder behind
            shutil.rmtree(results.path, ignore_errors=True)
        raise

    kwargs = {
        "ranks": ranks,
        "timeout_s": timeout_s,
        "allow_unseen": allow_unseen,
        "pw_file_threshold": pw_file_threshold,
    }
    if engine == "aiida" and todo:
        from rhocat.evaluate.aiida_engine import AiidaScf

        kwargs["scf"] = AiidaScf(**(aiida or {}))
    record = _RowRecorder(results, len(todo), progress, on_row)
    work_root = results.path / WORK
    try:
        if workers <= 1:
            _evaluate_here(model, ds, family, todo, results, kwargs, keep_work, record)
        else:
            _evaluate_in_pool(model, ds, todo, results, workers, kwargs, keep_work, record)
    finally:
        record.close()
        if work_root.is_dir() and not keep_work and not any(work_root.iterdir()):
            work_root.rmdir()
    return write_summary(results.path)


def _check_options(engine: str, workers: int, ranks: int | None, timeout_s: float | None) -> None:
    """InputError for an unknown engine, workers that are not a whole number >= 1 (or > 1
    with AiiDA), and bad pw.x run options."""
    from rhocat.qe.scf import check_run_options

    if engine not in ("local", "aiida"):
        raise InputError(f"engine must be local or aiida, not {engine!r}")
    if engine == "aiida" and workers > 1:
        raise InputError("the aiida engine evaluates one structure at a time: use workers=1")
    check_run_options(ranks, timeout_s)
    if int(workers) != workers or workers < 1:
        raise InputError(f"workers must be a whole number >= 1, not {workers}")


def _selected_ids(ds, ids: Sequence[str] | None, splits: Sequence[str] | None) -> list[str]:
    """``ids`` (each must be in the dataset), else the converged entries of ``splits``
    (None: all); InputError when that selects nothing."""
    if ids is not None:
        ids = list(ids)
        missing = [i for i in ids if i not in ds]
        if missing:
            raise InputError(f"{ds.path}: no entry {', '.join(missing[:5])}")
        return ids
    ids = ds.ids(split=list(splits) if splits else None)
    if not ids:
        have = ", ".join(ds.splits()) or "none"
        raise InputError(
            f"{ds.path}: no converged entry in split(s) {', '.join(splits or [])} "
            f"(splits present: {have})"
        )
    return ids


class _RowRecorder:
    """Writes each finished row to the results folder, advances the progress bar (with the
    row's s-AUC or status) and hands the row to ``on_row``."""

    def __init__(self, results: ResultsDir, total: int, progress: bool, on_row):
        self.results, self.on_row, self.bar = results, on_row, None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="evaluate", unit="structure")

    def __call__(self, row: dict) -> None:
        self.results.write_row(row)
        if self.bar is not None:
            ok = row.get("status") == "ok"
            self.bar.set_postfix_str(
                f"{row['id']}: s-AUC {row.get('s_auc'):.2f}"
                if ok and row.get("s_auc") is not None
                else f"{row['id']}: {row.get('status')}"
            )
            self.bar.update(1)
        if self.on_row is not None:
            self.on_row(row)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _evaluate_here(model, ds, family, todo, results, kwargs, keep_work, record) -> None:
    """Evaluate ``todo`` one after the other in this process; a failure becomes a row."""
    for entry_id in todo:
        work = results.path / WORK / results.row_path(entry_id).stem
        try:
            sample = ds.load(entry_id)
            row = evaluate_entry(model, sample, family, work, **kwargs)
        except Exception as exc:  # recorded; a bug must not lose the other structures
            row = _failed_row(entry_id, ds.row(entry_id).split, exc)
        finally:
            if not keep_work:
                shutil.rmtree(work, ignore_errors=True)
        record(row)


def _evaluate_in_pool(model, ds, todo, results, workers, kwargs, keep_work, record) -> None:
    """Evaluate ``todo`` in ``workers`` processes (forkserver: no fork of a process holding
    torch/tqdm threads); rows are recorded as they finish."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    jobs = [
        (
            model,
            str(ds.path),
            i,
            str(results.path / WORK / results.row_path(i).stem),
            {**kwargs, "keep_work": keep_work},
        )
        for i in todo
    ]
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(_worker, j) for j in jobs]
        for fut in as_completed(futures):
            record(fut.result())


def write_summary(out_dir: str | os.PathLike) -> dict:
    """(Re)write ``summary.json`` and ``summary.md`` of a results folder from its rows."""
    from rhocat.evaluate.results import write_text_atomic

    rows = load_rows(out_dir)
    summary = summarize(rows)
    write_json_atomic(Path(out_dir) / "summary.json", summary)
    write_text_atomic(Path(out_dir) / "summary.md", to_markdown(summary))
    return summary
