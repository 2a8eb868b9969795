"""Training configurations: presets ('small', 'large'), a dict, or a JSON file.

The presets are the data file ``rhocat/train/presets.json``.

A resolved configuration has two sections: ``model`` (passed to the model class) and
``train`` (optimiser, loss, steps). Unknown keys are refused (typos are user errors).
"""

from __future__ import annotations

import copy
import json
import os
from importlib.resources import files
from pathlib import Path

from rhocat.errors import InputError

TRAIN_DEFAULTS: dict = {
    "steps": 2000,
    "lr": 5e-3,
    "lr_final_factor": 0.1,  # exponential decay to lr * factor at the last step
    "batch_size": 1,  # structures per step (per process)
    "loss": None,  # None: 'hartree' for basis, 'l2_real' for pointwise
    "val_every": 100,
    "grad_clip": 10.0,
    "seed": 0,
    "probes_per_step": 2048,  # pointwise: real-space points per structure per step
    "ema_decay": 0.0,  # > 0: validate and save the weights' moving average (rhocat.train.ema)
    "weight_decay": 0.0,  # > 0: AdamW's decoupled decay of the weights (not the baseline)
}

LOSSES = ("hartree", "hartree_rel", "l2_g", "l2_real", "l1_real")

#: Presets per model kind ('small', 'large') and their note: ``rhocat/train/presets.json``.
PRESETS_FILE = files("rhocat.train") / "presets.json"


def load_presets(path=PRESETS_FILE) -> dict[str, dict[str, dict]]:
    """kind -> preset name -> ``{'model': {...}, 'train': {...}}`` from a presets JSON file."""
    return json.loads(path.read_text())["presets"]


PRESETS: dict[str, dict[str, dict]] = load_presets()


def resolve_config(kind: str, config: str | dict | os.PathLike | None = "small") -> dict:
    """``{'model': {...}, 'train': {...}}`` for a model kind from a preset name, dict or JSON file.

    A dict or file may hold ``model``/``train`` sections and ``preset`` (the base, default 'small').
    """
    if kind not in PRESETS:
        raise InputError(f"unknown model kind {kind!r}; choose one of {', '.join(PRESETS)}")
    if config is None:
        config = "small"
    if isinstance(config, str | os.PathLike) and str(config) in PRESETS[kind]:
        user: dict = {"preset": str(config)}
    elif isinstance(config, dict):
        user = copy.deepcopy(config)
    else:
        path = Path(config)
        if not path.is_file():
            raise InputError(
                f"config {str(config)!r} is neither a preset (small, large) nor a file"
            )
        try:
            user = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read config file {path}: {exc}") from exc
        if not isinstance(user, dict):
            raise InputError(f"config file {path} must hold a JSON object")
    unknown = set(user) - {"preset", "model", "train"}
    if unknown:
        raise InputError(
            f"unknown config section(s) {sorted(unknown)}; use 'preset', 'model', 'train'"
        )
    preset = user.get("preset", "small")
    if preset not in PRESETS[kind]:
        raise InputError(f"unknown preset {preset!r} for {kind}; choose small or large")
    base = copy.deepcopy(PRESETS[kind][preset])
    model = {**base.get("model", {}), **user.get("model", {})}
    if "basis" in base.get("model", {}) and "basis" in user.get("model", {}):
        model["basis"] = {**base["model"]["basis"], **user["model"]["basis"]}
    train = {**TRAIN_DEFAULTS, **base.get("train", {})}
    bad = set(user.get("train", {})) - set(TRAIN_DEFAULTS)
    if bad:
        raise InputError(f"unknown train option(s) {sorted(bad)}; known: {sorted(TRAIN_DEFAULTS)}")
    train.update(user.get("train", {}))
    if train["loss"] is None:
        train["loss"] = "l2_real" if kind == "pointwise" else "hartree"
    if train["loss"] not in LOSSES:
        raise InputError(f"unknown loss {train['loss']!r}; choose one of {', '.join(LOSSES)}")
    if not (isinstance(train["ema_decay"], int | float) and 0.0 <= train["ema_decay"] < 1.0):
        raise InputError(f"ema_decay must lie in [0, 1), got {train['ema_decay']!r}")
    wd = train["weight_decay"]
    if not (isinstance(wd, int | float) and not isinstance(wd, bool) and wd >= 0.0):
        raise InputError(f"weight_decay must be a number >= 0, got {wd!r}")
    if kind == "pointwise" and train["loss"] not in ("l2_real", "l1_real"):
        raise InputError(
            "the pointwise model trains on real-space samples: loss l2_real or l1_real"
        )
    return {"model": model, "train": train}
