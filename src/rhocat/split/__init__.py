"""The combinatorial train/val/test split by element combination (paper, section 3.2)."""

from rhocat.split.algorithm import (
    EVAL_SPLITS,
    SPLITS,
    Assignment,
    Split,
    check_disjoint,
    make_split,
)
from rhocat.split.io import load_split_structures, read_split, write_split
from rhocat.split.table import summary_rows, summary_table

__all__ = [
    "EVAL_SPLITS",
    "SPLITS",
    "Assignment",
    "Split",
    "check_disjoint",
    "load_split_structures",
    "make_split",
    "read_split",
    "summary_rows",
    "summary_table",
    "write_split",
]
