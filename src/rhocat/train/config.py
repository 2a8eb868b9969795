"""Training configurations: presets ('small', 'large'), a dict, or a JSON file.

A resolved configuration has two sections: ``model`` (passed to the model class) and
``train`` (optimiser, loss, steps). Unknown keys are refused (typos are user errors).
"""

from __future__ import annotations

import copy
import json
import os
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
}

LOSSES = ("hartree", "l2_g", "l2_real", "l1_real")

PRESETS: dict[str, dict[str, dict]] = {
    "radial": {
        "small": {"model": {"basis": {"n_alpha": 6, "alpha_min": 0.2, "ratio": 2.5},
                            "ridge_lambda": 10.0}},
        "large": {"model": {"basis": {"n_alpha": 10, "alpha_min": 0.1, "ratio": 2.0},
                            "ridge_lambda": 10.0}},
    },
    "basis": {
        "small": {
            "model": {
                "basis": {"l_max": 4, "n_alpha": 10, "alpha_min": 0.25, "ratio": 1.8},
                "cutoff_ang": 4.5, "n_layers": 2, "hidden_muls": [24, 8, 4], "sh_lmax": 2,
                "n_rbf": 8, "radial_hidden": 32,
            },
            "train": {"steps": 1500, "lr": 5e-3},
        },
        "large": {
            "model": {
                "basis": {"l_max": 6, "n_alpha": 16, "alpha_min": 0.1, "ratio": 1.6},
                "cutoff_ang": 5.0, "n_layers": 3, "hidden_muls": [64, 32, 16, 8], "sh_lmax": 3,
                "n_rbf": 10, "radial_hidden": 64,
            },
            "train": {"steps": 20000, "lr": 3e-3},
        },
    },
    "pointwise": {
        "small": {
            "model": {"cutoff_ang": 4.0, "hidden": 48, "n_rbf": 16, "n_interactions": 2,
                      "max_neighbours": 32},
            "train": {"steps": 1500, "lr": 2e-3},
        },
        "large": {
            "model": {"cutoff_ang": 5.0, "hidden": 128, "n_rbf": 24, "n_interactions": 3,
                      "max_neighbours": 64},
            "train": {"steps": 20000, "lr": 1e-3},
        },
    },
}  # fmt: skip


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
    if kind == "pointwise" and train["loss"] not in ("l2_real", "l1_real"):
        raise InputError(
            "the pointwise model trains on real-space samples: loss l2_real or l1_real"
        )
    return {"model": model, "train": train}
