"""Training metrics to TensorBoard, beside the CSV, when TensorBoard is installed.

``pip install 'rhocat[tensorboard]'`` (or any ``tensorboard``) and every
training run that writes ``model.metrics.csv`` also writes event files to
``model.tensorboard/`` next to it: the training loss, learning rate and
throughput every step, the validation metrics whenever they are computed.
Watch with ``tensorboard --logdir model.tensorboard`` (or the parent folder of
several runs). ``RHOCAT_TENSORBOARD=0`` turns it off. Without TensorBoard
nothing changes (the CSV is the record).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: Event-file folder next to ``<stem>.metrics.csv``.
SUFFIX = ".tensorboard"
#: CSV column -> TensorBoard tag.
TAGS = {
    "loss": "train/loss",
    "lr": "train/lr",
    "structures_per_s": "train/structures_per_s",
    "val_mae": "val/mae",
    "val_nmae_pct": "val/nmae_pct",
    "val_nmae_acs_pct": "val/nmae_acs_pct",
    "val_hartree_ry": "val/hartree_ry",
    "val_hartree_acs_ry": "val/hartree_acs_ry",
    "val_captured_pct": "val/captured_pct",
}


def log_dir(csv_path: str | os.PathLike) -> Path:
    """``model.tensorboard`` for ``model.metrics.csv``."""
    path = Path(csv_path)
    stem = path.name.removesuffix(".metrics.csv").removesuffix(".csv")
    return path.with_name(stem + SUFFIX)


def available() -> bool:
    """Whether TensorBoard logging can run here (installed, not switched off)."""
    if os.environ.get("RHOCAT_TENSORBOARD", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return False
    return True


class MetricsLog:
    """Writes the training rows (the CSV's dicts) as scalars; a no-op without TensorBoard."""

    def __init__(self, csv_path: str | os.PathLike | None):
        self.writer: Any = None
        if csv_path is not None and available():
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(log_dir(csv_path)))

    @property
    def path(self) -> Path | None:
        return Path(self.writer.log_dir) if self.writer is not None else None

    def log(self, row: dict) -> None:
        """One CSV row (``step`` and metric columns) as scalars at that step."""
        if self.writer is None:
            return
        step = int(row["step"])
        for column, tag in TAGS.items():
            value = row.get(column)
            if value is not None and value != "":
                self.writer.add_scalar(tag, float(value), step)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
