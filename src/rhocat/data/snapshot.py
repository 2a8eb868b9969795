"""A fixed selection of a growing dataset: the entry ids per split, written once.

Benchmarks that compare models (``benchmarks/ablation.py``,
``benchmarks/learning_curve.py``) train and test every model on the same structures
while the dataset build goes on: the first call records the ids present then, later
calls read them back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rhocat.fileio import atomic_write_text


def split_snapshot(dataset, path: str | os.PathLike) -> dict[str, list[str]]:
    """Ids per split of ``dataset`` (a :class:`rhocat.data.store.Dataset`), fixed at the
    first call in the JSON file ``path``; keys starting with ``_`` are notes (e.g. the
    rule that made the snapshot) and are left out."""
    path = Path(path)
    if path.is_file():
        return {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}
    snap = {split: dataset.ids(split=split) for split in dataset.splits()}
    atomic_write_text(path, json.dumps(snap, indent=0))
    return snap
