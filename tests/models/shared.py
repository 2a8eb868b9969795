"""What the model tests share beside their fixtures (tests/models/conftest.py)."""

from __future__ import annotations

import torch


def randomize(model, seed: int, only: str | None = None):
    """``model`` with its parameters (those whose name holds ``only``, or all) drawn from
    N(0, 0.3²) under ``seed``, in eval mode: a model whose every term matters."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if only is None or only in name:
                p.normal_(0.0, 0.3)
    return model.eval()
