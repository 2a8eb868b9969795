"""What the benchmark tests share: the repository's benchmark dataset, the shipped model,
and ``benchmarks/`` on the import path (the benchmark scripts are modules there)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
DATASET = BENCHMARKS / "dataset" / "dataset"
MODEL = ROOT / "src" / "rhocat" / "pretrained" / "default.pt"

#: Skip a test that needs the benchmark dataset and the shipped model when this tree lacks them.
needs_dataset = pytest.mark.skipif(
    not (DATASET.is_dir() and MODEL.is_file()), reason="no benchmark dataset in this tree"
)

if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))
