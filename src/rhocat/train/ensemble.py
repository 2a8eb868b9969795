"""Train an ensemble of basis models (consecutive seeds) and calibrate its shrinkage.

Each member is an ordinary :func:`rhocat.train.train_model` run written next to the
ensemble (``model.member0.pt``, ...). A rerun loads the members that finished, continues
an interrupted member from its last checkpoint (``model.member0.last.pt``) and trains the
rest, so an ensemble trained for CPU-hours survives being stopped at any step. The
ensemble checkpoint (``model.pt``, kind ``ensemble``) holds all members; its ``shrink_c``
is chosen on the validation split (:func:`rhocat.models.ensemble.calibrate_shrinkage`),
never on test.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

from rhocat.errors import InputError
from rhocat.fileio import atomic_write_text
from rhocat.models.ensemble import EnsembleModel, calibrate_shrinkage
from rhocat.train.checkpoint import checkpoint_dict, load_model, save_checkpoint
from rhocat.train.config import resolve_config


def member_path(out: str | os.PathLike, k: int) -> Path:
    """Checkpoint path of member ``k`` of the ensemble written to ``out``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.member{k}{out.suffix or '.pt'}")


def steps_done(path: Path) -> int | None:
    """Steps a member has taken, from its last checkpoint beside ``path``; None without one.

    The best checkpoint (``path``) is written during training whenever validation improves,
    so its presence alone does not say that the member finished.
    """
    from rhocat.train.checkpoint import read_checkpoint
    from rhocat.train.loop import output_paths

    last = output_paths(path)[1]
    if not last.is_file():
        return None
    return int((read_checkpoint(last).get("train_state") or {}).get("step", 0))


def train_ensemble(
    data: Any,
    n_members: int = 5,
    config: str | dict | os.PathLike | None = "small",
    steps: int | None = None,
    out: str | os.PathLike = "model.pt",
    calibrate: bool = True,
    progress: bool = True,
    init_from: EnsembleModel | str | os.PathLike | None = None,
    **train_kwargs,
) -> tuple[EnsembleModel, dict]:
    """Train ``n_members`` basis models with consecutive seeds and save them as one ensemble.

    Args:
        data: a dataset or a list of samples (see :func:`rhocat.train.train_model`).
        n_members: K ≥ 2.
        config: the members' config (preset, dict or JSON file); ``train.seed`` is the
            first member's seed.
        steps: optimisation steps per member.
        out: the ensemble checkpoint; members are written beside it.
        calibrate: choose ``shrink_c`` on the validation split (else c = 1).
        init_from: fine-tune a trained ensemble (or its checkpoint file): member k starts
            from its member k (see ``init_from`` of :func:`rhocat.train.train_model`);
            ``n_members`` must not exceed its number of members.
        train_kwargs: passed to :func:`rhocat.train.train_model` (``device``, ``loss``, ...).

    Returns:
        (the ensemble, metrics: per-member validation figures, shrinkage scores, seconds).
    """
    from rhocat.train.data import split_samples
    from rhocat.train.loop import dataset_metadata, train_model

    if n_members < 2:
        raise InputError(f"an ensemble needs at least 2 members, got {n_members}")
    cfg = resolve_config("basis", config)
    seed0 = int(cfg["train"]["seed"])
    t0 = time.perf_counter()
    train, val = split_samples(data)  # loaded once for all members
    # the members train on samples: the dataset's family and protocol are passed on
    train_kwargs["metadata"] = {**dataset_metadata(data), **(train_kwargs.get("metadata") or {})}
    samples = train + val
    starts = _member_starts(init_from, n_members)
    total = int(steps if steps is not None else cfg["train"]["steps"])
    members, member_metrics = [], []
    for k in range(n_members):
        path = member_path(out, k)
        done = steps_done(path)
        if path.is_file() and (done is None or done >= total):
            members.append(load_model(path))
            member_metrics.append(getattr(members[-1], "metrics", {}).get("val", {}))
            continue
        cfg_k = copy.deepcopy(cfg)
        cfg_k["train"]["seed"] = seed0 + k
        result = train_model(
            samples, model="basis", config=cfg_k, steps=steps, out=path, progress=progress,
            resume=done is not None, init_from=starts[k], **train_kwargs,
        )  # fmt: skip
        members.append(load_model(result.best_path))
        member_metrics.append(result.val)
    ensemble = EnsembleModel.from_members(members)
    scores: dict = {}
    if calibrate and val:
        best, scores = calibrate_shrinkage(ensemble, val)
        ensemble.config["shrink_c"] = best
    metrics = {
        "members": member_metrics,
        "shrink_c": ensemble.config["shrink_c"],
        "shrink_scores_val_captured_pct": scores,
        "train_s": time.perf_counter() - t0,
    }
    save_checkpoint(out, checkpoint_dict(ensemble, metrics))
    return ensemble, metrics


def _member_starts(init: EnsembleModel | str | os.PathLike | None, n_members: int) -> list[Any]:
    """Per member, the model its training starts from (None: from scratch)."""
    from rhocat.train.loop import FINE_TUNE_SOURCE

    if init is None:
        return [None] * n_members
    if isinstance(init, str | os.PathLike):
        source, init = str(init), load_model(init)
    else:
        source = init.metadata.get(FINE_TUNE_SOURCE, "an ensemble in memory")
    if not isinstance(init, EnsembleModel):
        raise InputError(
            f"fine-tuning an ensemble starts from an ensemble, not from a {init.kind!r} model"
        )
    if n_members > len(init.members):
        raise InputError(
            f"the ensemble to fine-tune has {len(init.members)} members, fewer than {n_members}"
        )
    starts = [init.member(k) for k in range(n_members)]
    for k, start in enumerate(starts):
        start.metadata[FINE_TUNE_SOURCE] = f"{source}, member {k}"
    return starts


def train_member(
    samples: list,
    path: str | os.PathLike,
    *,
    seed: int,
    element_features: bool,
    steps: int,
    config: str | dict | os.PathLike | None = "small",
) -> tuple[Any, float]:
    """One basis model (seed ``seed``, element features or a free embedding) trained on
    ``samples`` into ``path``, or read back when ``path`` and its ``.json`` record (training
    seconds, validation figures) exist: benchmarks share members between ensembles. A run
    that was stopped (its ``.last.pt`` beside ``path``, no record) is resumed, exactly.

    Returns:
        (the model, its training time in s, as recorded the first time; for a resumed run
        the time before the stop is the ``elapsed_s`` of its metrics CSV's last row, which
        counts every run before it).
    """
    from rhocat.train.loop import output_paths, train_model

    path = Path(path)
    record = path.with_suffix(".json")
    if path.is_file() and record.is_file():
        return load_model(path), json.loads(record.read_text())["train_s"]
    _, last, metrics_csv = output_paths(path)
    resume = last.is_file()
    before = _elapsed_in(metrics_csv) if resume else 0.0
    t0 = time.perf_counter()
    result = train_model(
        samples,
        "basis",
        member_config(config, seed, element_features),
        steps=steps,
        out=path,
        progress=False,
        resume=resume,
    )
    train_s = before + time.perf_counter() - t0
    atomic_write_text(record, json.dumps({"train_s": train_s, "val": result.val}))
    return load_model(path), train_s


def member_config(
    config: str | dict | os.PathLike | None, seed: int, element_features: bool
) -> dict:
    """The resolved training configuration of an ensemble member: ``config`` with its
    seed and its choice of element features (True) or a free embedding (False)."""
    cfg = copy.deepcopy(resolve_config("basis", config))
    cfg["model"]["element_features"] = element_features
    cfg["train"]["seed"] = seed
    return cfg


def _elapsed_in(metrics_csv: Path) -> float:
    """Seconds of training a stopped run's metrics CSV records (its last row's
    ``elapsed_s``, all runs before the stop), 0 if none."""
    from rhocat.train.loop import read_metrics_csv

    rows = read_metrics_csv(metrics_csv)
    return float(rows[-1]["elapsed_s"]) if rows else 0.0
