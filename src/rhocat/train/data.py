"""Training data from a dataset (``.ids(split)`` / ``.load(id)``) or a list of samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rhocat.errors import InputError


def split_samples(data: Any) -> tuple[list, list]:
    """``(train, val)`` lists of DensitySample-like objects.

    ``data`` is any object with ``ids(split=None)`` and ``load(id)`` (e.g.
    :class:`rhocat.data.store.Dataset`) or a sequence of samples. Training uses split
    'train' (every sample when no sample is labelled 'train'), validation split 'val'.
    """
    if hasattr(data, "ids") and hasattr(data, "load"):
        train_ids = list(data.ids(split="train"))
        val_ids = list(data.ids(split="val"))
        if not train_ids:
            train_ids = [i for i in data.ids() if i not in set(val_ids)]
        train = [data.load(i) for i in train_ids]
        val = [data.load(i) for i in val_ids]
    elif isinstance(data, Sequence):
        samples = list(data)
        train = [s for s in samples if getattr(s, "split", "") == "train"]
        val = [s for s in samples if getattr(s, "split", "") == "val"]
        if not train:
            train = [s for s in samples if getattr(s, "split", "") != "val"]
    else:
        raise InputError("training data must be a dataset (ids/load) or a list of DensitySample")
    if not train:
        raise InputError("no training structures (split 'train' is empty)")
    return train, val


def elements_of(samples: Sequence) -> list[int]:
    """Sorted atomic numbers present in ``samples``."""
    return sorted({int(z) for s in samples for z in s.numbers})
