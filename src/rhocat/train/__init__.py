"""Training of density models (``rhocat train``): losses, metrics, checkpoints, DDP.

The names below are imported on first use (PEP 562), so that importing a light module of
this package (``rhocat.train.config``, which the CLI's parser reads) does not import
PyTorch: ``rhocat --help`` and an input error answer in a fraction of a second.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Public name → the module of this package (or rhocat's) that defines it.
_WHERE = {
    "predict_becsum": "rhocat.models.registry",
    "predict_delta_rho_g": "rhocat.models.registry",
    "FORMAT_VERSION": "rhocat.train.checkpoint",
    "load_model": "rhocat.train.checkpoint",
    "read_checkpoint": "rhocat.train.checkpoint",
    "save_checkpoint": "rhocat.train.checkpoint",
    "resolve_config": "rhocat.train.config",
    "TrainResult": "rhocat.train.loop",
    "output_paths": "rhocat.train.loop",
    "train_model": "rhocat.train.loop",
    "density_metrics": "rhocat.train.metrics",
    "hartree_energy_ry": "rhocat.train.metrics",
}

__all__ = [
    "FORMAT_VERSION",
    "TrainResult",
    "density_metrics",
    "hartree_energy_ry",
    "load_model",
    "output_paths",
    "predict_becsum",
    "predict_delta_rho_g",
    "read_checkpoint",
    "resolve_config",
    "save_checkpoint",
    "train_model",
]

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from rhocat.models.registry import predict_becsum, predict_delta_rho_g
    from rhocat.train.checkpoint import (
        FORMAT_VERSION,
        load_model,
        read_checkpoint,
        save_checkpoint,
    )
    from rhocat.train.config import resolve_config
    from rhocat.train.loop import TrainResult, output_paths, train_model
    from rhocat.train.metrics import density_metrics, hartree_energy_ry


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
