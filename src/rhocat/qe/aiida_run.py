"""Run rhocat's pw.x pipeline through AiiDA and collect :class:`ScfResult` objects.

Each job (an id and an ASE ``Atoms``) becomes, optionally, a
``PwRelaxWorkChain`` (``vc-relax``), then a ``PwBaseWorkChain`` SCF whose pw.x
parameters are exactly those of a local rhocat run
(:func:`rhocat.qe.inputs.pw_parameters`: protocol, cutoffs of the family,
k-point mesh, ``startingpot='atomic'``). The SCF work chain runs one
calculation (``max_iterations=1``): AiiDA's error handlers would otherwise
restart a non-converged SCF with other mixing settings, and the ground truth
would no longer be the run that the evaluation repeats. Failures are results
(``converged=False`` and a reason), never exceptions.

The charge density (``charge-density.dat``, and ``paw.txt`` for PAW) and
``data-file-schema.xml`` are retrieved with ``additional_retrieve_list`` and
copied, with pw.x's stdout, into ``<workdir>/<job id>/aiida-<pk>/``; the
returned result's ``save_dir`` is that local ``out/aiida.save`` folder and its
SCF history is parsed from the retrieved stdout by :mod:`rhocat.qe.parse`,
exactly as for a local run.

When the profile's daemon runs (the cluster set-up) work chains are submitted
to it, at most ``max_in_flight`` at a time, and polled; otherwise each runs in
this process (``aiida.engine.run``), one after the other. Every work chain is
tagged with the extra ``rhocat_key`` (a hash of its inputs): re-running
:func:`run_many` after the client was killed picks up the work chains that
finished or still run instead of submitting them again.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from rhocat.errors import InputError, RhocatError
from rhocat.qe.aiida import (
    ensure_code,
    ensure_computer,
    ensure_profile,
    ensure_pseudo_family,
    family_label,
    require_aiida,
)
from rhocat.qe.inputs import pw_parameters
from rhocat.qe.protocol import Protocol
from rhocat.qe.pseudo import PseudoFamily, load_family
from rhocat.qe.scf import ScfResult, result_from_output

#: pw.x names used by aiida-quantumespresso's PwCalculation.
AIIDA_PREFIX = "aiida"
AIIDA_OUTDIR = "./out/"
AIIDA_PSEUDO_DIR = "./pseudo/"
SAVE = f"out/{AIIDA_PREFIX}.save"
#: Files of the ``.save`` folder fetched back (paw.txt exists for PAW species only).
RETRIEVE = [f"{SAVE}/charge-density.dat", f"{SAVE}/paw.txt", f"{SAVE}/data-file-schema.xml"]
#: Keys the PwCalculation sets itself (lower case namelist, key).
_BLOCKED = {
    ("control", "pseudo_dir"),
    ("control", "outdir"),
    ("control", "prefix"),
    ("system", "nat"),
    ("system", "ntyp"),
}
EXTRA_KEY = "rhocat_key"
EXTRA_ID = "rhocat_id"
EXTRA_STAGE = "rhocat_stage"
EXTRA_MODE = "rhocat_mode"


# --------------------------------------------------------------------------- parameters


def aiida_parameters(params: Mapping) -> tuple[dict, list[int]]:
    """rhocat namelists -> (AiiDA ``parameters`` dict, k-point mesh).

    Namelists are upper-cased, the keys the plugin sets itself (prefix, outdir,
    pseudo_dir, nat, ntyp) dropped, and ``verbosity`` pinned to rhocat's value
    (pw.x's default ``low`` when unset) because the plugin would use ``high``.
    """
    out: dict[str, dict] = {}
    for name, values in params.items():
        if name == "k_points":
            continue
        out[name.upper()] = {k: _plain(v) for k, v in values.items() if (name, k) not in _BLOCKED}
    out.setdefault("CONTROL", {}).setdefault("verbosity", "low")
    mesh = [int(n) for n in params.get("k_points", [1, 1, 1])]
    return out, mesh


def local_parameters(params: Mapping) -> dict:
    """The namelists as they ran under AiiDA (its prefix, outdir, pseudo_dir), for the record."""
    out = copy.deepcopy({k: (dict(v) if isinstance(v, Mapping) else v) for k, v in params.items()})
    out.setdefault("control", {}).update(
        prefix=AIIDA_PREFIX, outdir=AIIDA_OUTDIR, pseudo_dir=AIIDA_PSEUDO_DIR
    )
    out["control"].setdefault("verbosity", "low")
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def job_key(stage: str, atoms: Atoms, params: Mapping, family: PseudoFamily, code: Any) -> str:
    """Hash of everything that defines one work chain (for resubmission-free resumes)."""
    payload = {
        "stage": stage,
        "symbols": atoms.get_chemical_symbols(),
        "cell": np.round(atoms.cell.array, 10).tolist(),
        "positions": np.round(atoms.positions, 10).tolist(),
        "params": _plain(dict(params)),
        "family": family_label(family),
        "code": str(code.uuid),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- builders


def _options(ranks: int, options: Mapping | None, code: Any = None) -> dict:
    """``metadata.options`` of a PwCalculation: resources, MPI, retrieval (user keys win).

    ``withmpi`` follows the code's own setting when it has one, else whether
    more than one MPI process is requested.
    """
    opts: dict[str, Any] = {
        "resources": {"num_machines": 1, "num_mpiprocs_per_machine": max(1, ranks)},
        "environment_variables": {"OMP_NUM_THREADS": "1"},
        "additional_retrieve_list": list(RETRIEVE),
    }
    for key, value in (options or {}).items():
        if key == "additional_retrieve_list":
            opts[key] = sorted(set(opts[key]) | set(value))
        else:
            opts[key] = value
    if "withmpi" not in opts:
        code_mpi = getattr(code, "with_mpi", None)
        if code_mpi is not None:
            opts["withmpi"] = bool(code_mpi)
        else:
            res = opts["resources"]
            procs = res.get("tot_num_mpiprocs") or (
                res.get("num_machines", 1) * res.get("num_mpiprocs_per_machine", 1)
            )
            opts["withmpi"] = int(procs) > 1
    return opts


def _pw_inputs(code, structure, group, params: Mapping, ranks: int, options) -> dict:
    from aiida import orm

    parameters, mesh = aiida_parameters(params)
    kpoints = orm.KpointsData()
    kpoints.set_kpoints_mesh(mesh)
    return {
        "kpoints": kpoints,
        "pw": {
            "code": code,
            "parameters": orm.Dict(parameters),
            "pseudos": group.get_pseudos(structure=structure),
            "metadata": {"options": _options(ranks, options, code)},
        },
    }


def scf_builder(atoms: Atoms, params: Mapping, *, code, group, ranks: int = 1, options=None):
    """A ``PwBaseWorkChain`` builder for one SCF with rhocat's namelists ``params``."""
    from aiida import orm
    from aiida.plugins import WorkflowFactory

    structure = orm.StructureData(ase=atoms)
    inputs = _pw_inputs(code, structure, group, params, ranks, options)
    inputs["pw"]["structure"] = structure
    inputs["max_iterations"] = orm.Int(1)
    builder = WorkflowFactory("quantumespresso.pw.base").get_builder()
    builder._update(inputs)
    builder.metadata.label = "rhocat-scf"
    return builder


def relax_builder(atoms: Atoms, params: Mapping, *, code, group, ranks: int = 1, options=None):
    """A ``PwRelaxWorkChain`` builder (one vc-relax, no meta-convergence), rhocat's namelists."""
    from aiida import orm
    from aiida.plugins import WorkflowFactory

    structure = orm.StructureData(ase=atoms)
    builder = WorkflowFactory("quantumespresso.pw.relax").get_builder()
    builder.structure = structure
    builder._update({"base_relax": _pw_inputs(code, structure, group, params, ranks, options)})
    builder.meta_convergence = orm.Bool(False)
    builder.metadata.label = "rhocat-relax"
    return builder


# --------------------------------------------------------------------------- collection


def _last_calcjob(node):
    from aiida.orm import CalcJobNode

    calcs = [n for n in node.called_descendants if isinstance(n, CalcJobNode)]
    return max(calcs, key=lambda n: n.ctime) if calcs else None


def _process_reason(node) -> str:
    status = node.exit_status
    label = f"{node.process_label}<{node.pk}>"
    if node.is_excepted:
        return f"{label} excepted: {(node.exception or '').strip().splitlines()[-1:] or ''}"
    if node.is_killed:
        return f"{label} was killed"
    return f"{label} failed with exit status {status}: {node.exit_message or ''}".strip()


def _copy_retrieved(calc, dest: Path) -> tuple[str, Path | None]:
    """Copy a calculation's retrieved files into ``dest``; return (stdout, local .save or None)."""
    if "retrieved" not in calc.outputs:
        return "", None
    retrieved = calc.outputs.retrieved
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    retrieved.base.repository.copy_tree(tmp)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    out_name = calc.get_option("output_filename") or "aiida.out"
    stdout_path = dest / out_name
    stdout = stdout_path.read_text(errors="replace") if stdout_path.is_file() else ""
    # AiiDA stores ``additional_retrieve_list`` files flat, at the top of the folder
    save = dest / SAVE
    save.mkdir(parents=True, exist_ok=True)
    for name in ("charge-density.dat", "paw.txt", "data-file-schema.xml"):
        if not (save / name).is_file() and (dest / name).is_file():
            os.replace(dest / name, save / name)
    return stdout, save if save.is_dir() else None


def collect_result(
    node,
    *,
    params: Mapping,
    family: PseudoFamily,
    atoms: Atoms,
    workdir: Path,
    final_atoms: Atoms | None = None,
) -> ScfResult:
    """An :class:`ScfResult` from a terminated SCF work chain (files copied under ``workdir``).

    ``wall_s`` is the work chain's lifetime (creation to last change: AiiDA
    overhead and, on a cluster, queueing included); ``pw_wall_s`` is pw.x's own.
    """
    calc = _last_calcjob(node)
    stdout, save = ("", None)
    if calc is not None:
        stdout, save = _copy_retrieved(calc, workdir / f"aiida-{calc.pk}")
    return result_from_output(
        stdout,
        save,
        atoms=atoms,
        family=family,
        parameters=local_parameters(params),
        start="atomic",
        workdir=workdir,
        wall_s=max(0.0, (node.mtime - node.ctime).total_seconds()),
        failure="" if node.is_finished_ok else _process_reason(node),
        final_atoms=final_atoms,
        require_density=True,
    )


def failed_result(
    reason: str,
    *,
    params: Mapping,
    family: PseudoFamily,
    atoms: Atoms,
    workdir: Path,
    wall_s: float = 0.0,
) -> ScfResult:
    """A not-converged :class:`ScfResult` for a job that never reached its SCF."""
    symbols = sorted(set(atoms.get_chemical_symbols()))
    return ScfResult(
        converged=False,
        iterations=0,
        scf_accuracy_ry=[],
        energies_ry=[],
        energy_ry=None,
        fermi_energy_ev=None,
        band_gap_ev=None,
        n_electrons=None,
        fft_grid=None,
        wall_s=wall_s,
        pw_wall_s=None,
        reason=reason,
        output_tail="",
        save_dir=None,
        workdir=str(workdir),
        parameters=local_parameters(params),
        start="atomic",
        qe_version=None,
        pseudos={s: {"file": family[s].filename, "md5": family[s].md5} for s in symbols},
    )


def relaxed_atoms(node) -> Atoms | None:
    """The output structure of a finished ``PwRelaxWorkChain`` as ASE ``Atoms`` (Å), else None."""
    if not node.is_finished_ok or "output_structure" not in node.outputs:
        return None
    atoms = node.outputs.output_structure.get_ase()
    atoms.pbc = True
    return atoms


# --------------------------------------------------------------------------- driver


def _safe(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(job_id)) or "job"


def _find_existing(key: str, *, daemon: bool):
    """The newest work chain tagged ``key`` that finished fine, else None.

    With ``daemon``, one that the daemon still runs (it was submitted to it)
    counts too; a work chain left unfinished by a killed in-process run never
    does (nothing will ever advance it).
    """
    from aiida.orm import QueryBuilder, WorkflowNode

    qb = (
        QueryBuilder()
        .append(WorkflowNode, filters={f"extras.{EXTRA_KEY}": key}, tag="wc")
        .order_by({"wc": {"ctime": "desc"}})
    )
    for (node,) in qb.iterall():
        if node.is_finished_ok:
            return node
        submitted = node.base.extras.get(EXTRA_MODE, "") == "daemon"
        if daemon and submitted and not node.is_terminated:
            return node
    return None


@dataclass(frozen=True)
class _Setup:
    """What every job of one :func:`run_many` call shares (resolved AiiDA objects)."""

    family: PseudoFamily
    protocol: str | Protocol
    overrides: Mapping | None
    code: Any
    group: Any
    ranks: int
    options: Mapping | None
    daemon: bool
    reuse: bool
    first: str  # "relax" or "scf"


Outcome = tuple[str, ScfResult]


class _Job:
    """One structure through AiiDA: ``launch`` a stage, ``poll`` its node, ``fail`` with a reason.

    ``start`` and ``poll`` return the job's ``(id, ScfResult)`` once it is done
    (converged or not) and None while it still runs; an AiiDA error for this job
    becomes a failed result, a :class:`RhocatError` (the user's to fix) is raised.
    """

    def __init__(self, job_id: str, atoms: Atoms, root: Path, setup: _Setup):
        self.id = job_id
        self.atoms = atoms
        self.dir = root / _safe(job_id)
        self.setup = setup
        self.stage = "new"
        self.node = None
        self.params: dict = {}
        self.final_atoms: Atoms | None = None
        self.t0 = time.perf_counter()

    # -- the three actions

    def launch(self, stage: str, atoms: Atoms) -> None:
        """Submit (daemon) or run (in process) ``stage`` on ``atoms``, or adopt a finished twin."""
        from aiida import engine

        s = self.setup
        calc = "vc-relax" if stage == "relax" else "scf"
        self.params = pw_parameters(
            atoms,
            s.family,
            s.protocol,
            calculation=calc,
            startingpot="atomic",
            overrides=s.overrides,
        )
        key = job_key(stage, atoms, self.params, s.family, s.code)
        if self.stage == "new":
            self.t0 = time.perf_counter()  # timeouts count from the first submission
        self.stage = stage
        node = _find_existing(key, daemon=s.daemon) if s.reuse else None
        if node is None:
            make = relax_builder if stage == "relax" else scf_builder
            builder = make(
                atoms, self.params, code=s.code, group=s.group, ranks=s.ranks, options=s.options
            )
            if s.daemon:
                node = engine.submit(builder)
                _tag(node, key, self.id, stage, "daemon")
            else:
                node = _run_tagged(builder, key, self.id, stage)
        self.node = node

    def poll(self, timeout_s: float | None = None) -> Outcome | None:
        """Advance a job whose node terminated (relax -> SCF -> result); None while it runs.

        A job still running ``timeout_s`` after its first submission is killed
        and failed.
        """
        if not self.node.is_terminated:
            if timeout_s is not None and time.perf_counter() - self.t0 > timeout_s:
                _kill(self.node)
                return self.fail(f"timed out after {timeout_s} s ({self.stage} stage, killed)")
            return None
        return self._guarded(self._advance)

    def fail(self, reason: str) -> Outcome:
        """This job as a not-converged result with ``reason``."""
        return self.id, failed_result(
            reason,
            params=self.params,
            family=self.setup.family,
            atoms=self.atoms,
            workdir=self.dir,
            wall_s=time.perf_counter() - self.t0,
        )

    # -- helpers

    def start(self) -> Outcome | None:
        """Launch the first stage; a failed result if AiiDA refuses it."""
        return self._guarded(lambda: self.launch(self.setup.first, self.atoms))

    def _guarded(self, step) -> Outcome | None:
        try:
            return step()
        except RhocatError:  # the user's to fix (a bad override, ...): stop here
            raise
        except Exception as exc:  # an AiiDA error for this job is a result, not a crash
            return self.fail(f"{self.stage} stage: {type(exc).__name__}: {exc}")

    def _advance(self) -> Outcome | None:
        if self.stage == "relax":
            atoms = relaxed_atoms(self.node)
            if atoms is None:
                return self.fail(f"vc-relax failed: {_process_reason(self.node)}")
            self.final_atoms = atoms
            self.launch("scf", atoms)
            return None
        structure = self.final_atoms if self.final_atoms is not None else self.atoms
        return self.id, collect_result(
            self.node,
            params=self.params,
            family=self.setup.family,
            atoms=structure,
            workdir=self.dir,
            final_atoms=self.final_atoms,
        )


def _run_in_process(jobs: Iterable[_Job]) -> Iterator[Outcome]:
    """One job after the other; each stage runs to its end inside ``launch``."""
    for job in jobs:
        out = job.start()
        while out is None:
            out = job.poll()
        yield out


def _run_on_daemon(
    queue: deque[_Job], max_in_flight: int, poll_s: float, timeout_s: float | None
) -> Iterator[Outcome]:
    """Keep at most ``max_in_flight`` jobs submitted; poll them every ``poll_s`` seconds."""
    active: list[_Job] = []
    while queue or active:
        while queue and len(active) < max_in_flight:
            job = queue.popleft()
            out = job.start()
            if out is None:
                active.append(job)
            else:
                yield out
        still: list[_Job] = []
        for job in active:
            out = job.poll(timeout_s)
            if out is None:
                still.append(job)
            else:
                yield out
        active = still
        if active and all(not j.node.is_terminated for j in active):
            time.sleep(poll_s)


def run_many(
    jobs: Iterable[tuple[str, Atoms]],
    *,
    family: str | os.PathLike | PseudoFamily = "debian-pbe",
    protocol: str | Protocol = "fast",
    relax: bool = False,
    overrides: Mapping | None = None,
    workdir: str | os.PathLike | None = None,
    profile: str | None = None,
    computer: str | None = None,
    code: str | None = None,
    ranks: int | None = None,
    options: Mapping | None = None,
    daemon: bool | None = None,
    max_in_flight: int = 100,
    poll_s: float = 2.0,
    reuse: bool = True,
    timeout_s: float | None = None,
) -> Iterator[tuple[str, ScfResult]]:
    """Run (vc-relax +) SCF for each ``(id, atoms)`` through AiiDA; yield ``(id, ScfResult)``.

    Results come in completion order. ``result.save_dir`` is a local folder with
    the retrieved ``charge-density.dat`` (+ ``paw.txt``); with ``relax`` the
    result's ``final_atoms`` is the relaxed structure the SCF ran on (Å), and a
    failed relaxation gives a result with ``reason`` starting ``"vc-relax failed"``.

    Args:
        jobs: ``(id, atoms)`` pairs; ids must be unique.
        family, protocol, overrides: as for :func:`rhocat.qe.scf.run_scf`.
        relax: run a ``PwRelaxWorkChain`` (``vc-relax``) before the SCF.
        workdir: local folder for the retrieved files (``<workdir>/<id>/aiida-<pk>``;
            a new temporary folder when None, which the caller then owns).
        profile: AiiDA profile (default ``$RHOCAT_AIIDA_PROFILE``, else the loaded
            or default one, see :func:`rhocat.qe.aiida.ensure_profile`).
        computer: AiiDA computer label (default ``$RHOCAT_AIIDA_COMPUTER`` or
            ``localhost``, created as core.local/core.direct when missing; a
            cluster must be set up by the user).
        code: AiiDA code label (default ``$RHOCAT_AIIDA_CODE`` or ``pw@<computer>``,
            created for a local computer when missing).
        ranks: MPI ranks per calculation (default ``$RHOCAT_RANKS`` or the
            cores, at most 4, on a local computer; 1 elsewhere);
            ``options["resources"]`` overrides it.
        options: extra ``metadata.options`` of each calculation (e.g.
            ``max_wallclock_seconds``, ``account``, ``queue_name``, ``resources``);
            default: the JSON object in ``$RHOCAT_AIIDA_OPTIONS``.
        daemon: submit to the daemon (True), run in this process (False), or
            submit when the daemon runs (None).
        max_in_flight: most work chains submitted and not yet collected.
        poll_s: seconds between polls of submitted work chains.
        reuse: adopt work chains with the same inputs that finished or still run.
        timeout_s: with the daemon, a job still running this many seconds after
            its submission is killed and reported as failed (None: wait forever).
    """
    from rhocat.qe.aiida import daemon_running
    from rhocat.qe.runner import default_ranks

    require_aiida()
    ensure_profile(profile or os.environ.get("RHOCAT_AIIDA_PROFILE") or None)
    computer = computer or os.environ.get("RHOCAT_AIIDA_COMPUTER") or "localhost"
    code = code or os.environ.get("RHOCAT_AIIDA_CODE") or None
    if options is None:
        options = _env_options()
    family = load_family(family)
    comp = ensure_computer(computer)
    use_daemon = daemon_running() if daemon is None else daemon
    if use_daemon and not daemon_running():
        raise InputError("daemon=True but the AiiDA daemon is not running: `verdi daemon start`")
    setup = _Setup(
        family=family,
        protocol=protocol,
        overrides=overrides,
        code=_load_code(code, comp),
        group=ensure_pseudo_family(family),
        ranks=ranks or (default_ranks() if comp.transport_type == "core.local" else 1),
        options=options,
        daemon=use_daemon,
        reuse=reuse,
        first="relax" if relax else "scf",
    )
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="rhocat-aiida-"))
    root.mkdir(parents=True, exist_ok=True)

    seen: set[str] = set()
    queue: deque[_Job] = deque()
    for job_id, atoms in jobs:
        if job_id in seen:
            raise InputError(f"job id {job_id!r} appears twice")
        seen.add(job_id)
        family.require(atoms.get_chemical_symbols())
        queue.append(_Job(str(job_id), atoms, root, setup))
    if use_daemon:
        yield from _run_on_daemon(queue, max_in_flight, poll_s, timeout_s)
    else:
        yield from _run_in_process(queue)


def _env_options() -> dict | None:
    """``$RHOCAT_AIIDA_OPTIONS`` as a dict (None when unset)."""
    text = os.environ.get("RHOCAT_AIIDA_OPTIONS")
    if not text:
        return None
    try:
        options = json.loads(text)
    except ValueError as exc:
        raise InputError(f"$RHOCAT_AIIDA_OPTIONS is not a JSON object: {exc}") from exc
    if not isinstance(options, dict):
        raise InputError("$RHOCAT_AIIDA_OPTIONS is not a JSON object")
    return options


def _kill(node) -> None:
    from aiida.engine.processes.control import kill_processes

    try:
        kill_processes([node], msg_text="rhocat: timed out", wait=False)
    except Exception:  # already gone: nothing to kill
        pass


def _tag(node, key: str, job_id: str, stage: str, mode: str) -> None:
    node.base.extras.set_many(
        {EXTRA_KEY: key, EXTRA_ID: job_id, EXTRA_STAGE: stage, EXTRA_MODE: mode}
    )


def _run_tagged(builder, key: str, job_id: str, stage: str):
    """Run a builder in this process (blocking), tagging its node before it starts."""
    from aiida.engine.utils import loop_scope
    from aiida.manage import get_manager

    runner = get_manager().create_runner(communicator=None)  # as aiida.engine.run does
    try:
        with loop_scope(runner.loop):
            process = runner.instantiate_process(builder)
        _tag(process.node, key, job_id, stage, "in-process")
        _, node = runner.run_get_node(process)
    finally:
        runner.close()
    return node


def _load_code(label: str | None, computer):
    from aiida.common.exceptions import MultipleObjectsError, NotExistent
    from aiida.orm import load_code

    if label is None:
        return ensure_code("pw.x", computer)
    try:
        return load_code(label)
    except (NotExistent, MultipleObjectsError, ValueError) as exc:
        raise InputError(f"AiiDA code {label!r}: {exc}") from exc
