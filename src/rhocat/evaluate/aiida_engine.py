"""The two SCFs of an evaluation through AiiDA (``rhocat evaluate --engine aiida``).

:class:`AiidaScf` is a drop-in for :func:`rhocat.qe.scf.run_scf` inside
:func:`rhocat.evaluate.runner.evaluate_entry`: the baseline (``startingpot
'atomic'``) and the warm start run as ``PwBaseWorkChain`` SCFs with exactly the
stored namelists of the ground-truth run (one calculation, no error-handler
restarts), on the local computer or a cluster, and come back as the same
:class:`rhocat.qe.scf.ScfResult` a local run gives, so every row is the same.

The warm start's folder (``charge-density.dat``, ``paw.txt``) becomes a
``FolderData`` that aiida-core's ``core.transfer`` copies to the computer
(:func:`rhocat.predict.aiida.remote_start`), the work chain's ``parent_folder``.

Resumable at two levels: the results folder skips finished rows, and each
work chain carries the extra ``rhocat_key`` (a hash of the structure, the
namelists, the pseudopotentials, the code and, for a warm start, the start
files): running the evaluation again adopts work chains that finished (or
that the daemon still runs) instead of submitting them again.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ase import Atoms

from rhocat.errors import InputError
from rhocat.qe.save import PREDICTION_RECORD, RESTART_FILES
from rhocat.qe.scf import ScfResult


def _start_digest(start: str | os.PathLike) -> str:
    """``atomic``, or the SHA-256 of a start folder's restart files."""
    if str(start) == "atomic":
        return "atomic"
    folder = Path(start)
    h = hashlib.sha256()
    for name in RESTART_FILES:
        if (folder / name).is_file():
            h.update(name.encode())
            h.update((folder / name).read_bytes())
    return h.hexdigest()


class AiidaScf:
    """Runs one pw.x SCF through AiiDA with :func:`rhocat.qe.scf.run_scf`'s arguments.

    Args:
        profile: AiiDA profile (default ``$RHOCAT_AIIDA_PROFILE``, else the loaded or
            default one; a presto-style profile is created when there is none).
        computer: computer label (default ``$RHOCAT_AIIDA_COMPUTER``, else a local
            ``localhost`` one is created).
        code: code label (default ``$RHOCAT_AIIDA_CODE``, else ``pw@<computer>``).
        options: ``metadata.options`` of each ``PwCalculation`` (default
            ``$RHOCAT_AIIDA_OPTIONS``), e.g. SLURM resources and account.
        daemon: submit to the daemon and poll (default: when it runs), else run in
            this process.
        poll_s: polling interval with the daemon, s.
        reuse: adopt a finished work chain with the same key instead of rerunning.
    """

    def __init__(
        self,
        *,
        profile: str | None = None,
        computer: str | None = None,
        code: str | None = None,
        options: Mapping | None = None,
        daemon: bool | None = None,
        poll_s: float = 2.0,
        reuse: bool = True,
    ):
        from rhocat.qe import aiida as ra
        from rhocat.qe.aiida_run import _env_options, _load_code

        ra.require_aiida()
        ra.ensure_profile(profile or os.environ.get("RHOCAT_AIIDA_PROFILE") or None)
        label = computer or os.environ.get("RHOCAT_AIIDA_COMPUTER") or "localhost"
        self.computer = ra.ensure_computer(label)
        self.code = _load_code(code or os.environ.get("RHOCAT_AIIDA_CODE") or None, self.computer)
        self.options = dict(options) if options is not None else _env_options()
        running = ra.daemon_running()
        if daemon and not running:
            raise InputError("daemon=True but the AiiDA daemon is not running (verdi daemon start)")
        self.daemon = running if daemon is None else bool(daemon)
        self.poll_s = poll_s
        self.reuse = reuse
        self._groups: dict[str, Any] = {}

    def describe(self) -> dict:
        """Plain data for the results manifest."""
        return {
            "engine": "aiida",
            "computer": self.computer.label,
            "code": self.code.full_label,
            "daemon": self.daemon,
        }

    def _group(self, family):
        from rhocat.qe.aiida import ensure_pseudo_family, family_label

        label = family_label(family)
        if label not in self._groups:
            self._groups[label] = ensure_pseudo_family(family)
        return self._groups[label]

    def __call__(
        self,
        atoms: Atoms,
        *,
        family,
        start: str | os.PathLike = "atomic",
        parameters: Mapping,
        workdir: str | os.PathLike,
        ranks: int | None = 1,
        timeout_s: float | None = None,
        overrides: Mapping | None = None,
    ) -> ScfResult:
        """The SCF of ``atoms`` with the namelists ``parameters`` from ``start``, through AiiDA.

        Same arguments and result as :func:`rhocat.qe.scf.run_scf` with
        ``parameters`` (the evaluation's use); ``timeout_s`` applies with the
        daemon (a work chain running longer is killed and the result failed).
        """
        from rhocat.qe.aiida_run import (
            EXTRA_KEY,
            _find_existing,
            _kill,
            _run_tagged,
            _tag,
            collect_result,
            failed_result,
            job_key,
            scf_builder,
        )
        from rhocat.qe.inputs import apply_overrides
        from rhocat.qe.pseudo import load_family

        family = load_family(family)
        params = copy.deepcopy(dict(parameters))
        if overrides:
            apply_overrides(params, overrides)
        warm = str(start) != "atomic"
        params.setdefault("electrons", {})["startingpot"] = "file" if warm else "atomic"
        if warm and not (Path(start) / "charge-density.dat").is_file():
            raise InputError(f"{start} holds no charge-density.dat to start from")
        stage = f"eval-scf:{_start_digest(start)}"
        key = job_key(stage, atoms, params, family, self.code)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        node = _find_existing(key, daemon=self.daemon) if self.reuse else None
        if node is None:
            builder = scf_builder(
                atoms,
                params,
                code=self.code,
                group=self._group(family),
                ranks=ranks or 1,
                options=self.options,
            )
            if warm:
                builder.pw.parent_folder = self._remote_start(start)
            job_id = workdir.name
            if self.daemon:
                from aiida import engine

                node = engine.submit(builder)
                _tag(node, key, job_id, stage, "daemon")
            else:
                node = _run_tagged(builder, key, job_id, stage)
        while not node.is_terminated:
            if timeout_s is not None and time.perf_counter() - t0 > timeout_s:
                _kill(node)
                return failed_result(
                    f"timed out after {timeout_s} s (killed)",
                    params=params,
                    family=family,
                    atoms=atoms,
                    workdir=workdir,
                    wall_s=time.perf_counter() - t0,
                )
            time.sleep(self.poll_s)
        assert node.base.extras.get(EXTRA_KEY) == key
        result = collect_result(node, params=params, family=family, atoms=atoms, workdir=workdir)
        result.start = str(start)
        return result

    def _remote_start(self, start: str | os.PathLike):
        """The start folder as a FolderData copied to the computer (a RemoteData)."""
        from aiida import orm

        from rhocat.predict.aiida import ATTR_PREDICTION, SAVE, remote_start

        folder = orm.FolderData()
        src = Path(start)
        for name in RESTART_FILES:
            if (src / name).is_file():
                folder.base.repository.put_object_from_file(str(src / name), f"{SAVE}/{name}")
        meta = src / PREDICTION_RECORD
        if meta.is_file():
            folder.base.repository.put_object_from_file(str(meta), PREDICTION_RECORD)
            try:
                summary = json.loads(meta.read_text())
            except ValueError:
                summary = None
            if isinstance(summary, dict):
                summary.pop("requirements", None)
                try:
                    folder.base.attributes.set(ATTR_PREDICTION, summary)
                except (TypeError, ValueError):  # a value AiiDA cannot store (NaN): the file has it
                    pass
        folder.label = "rhocat-evaluation-start"
        return remote_start(folder.store(), self.computer)
