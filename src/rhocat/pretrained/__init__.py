"""The pretrained model shipped with rhocat, and its training card.

``default.pt`` is the default model, an ensemble of 'basis' models trained on the
training split of the benchmark dataset (``benchmarks/dataset_recipe.py``) and written
here by ``benchmarks/ship_pretrained.py``; ``default.json`` is its card: elements,
pseudopotential family and md5s, protocol and cutoffs, data size, metrics, warm-start
settings and ``recipe``, the commands that re-create it. ``rhocat predict`` uses it
when no model is given and refuses elements it does not cover.
"""

from __future__ import annotations

import json
from pathlib import Path

from rhocat.errors import ModelError

PRETRAINED_DIR = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT = PRETRAINED_DIR / "default.pt"
DEFAULT_CARD = PRETRAINED_DIR / "default.json"


def training_card() -> dict:
    """The training card of the shipped model (plain data)."""
    if not DEFAULT_CARD.is_file():
        raise ModelError("no pretrained model is shipped with this rhocat installation")
    return json.loads(DEFAULT_CARD.read_text())


def load_pretrained():
    """The shipped default model (a :class:`rhocat.models.base.DensityModel`):
    :func:`rhocat.train.load_model` without a path."""
    from rhocat.train import load_model

    return load_model()


def trained_systems() -> set[tuple[str, ...]]:
    """Element combinations (sorted symbols) of the shipped model's training structures.

    Empty when the card predates this field: then no combination can be called unseen.
    """
    card = training_card()
    return {tuple(sorted(s.split("-"))) for s in card.get("train_systems", [])}
