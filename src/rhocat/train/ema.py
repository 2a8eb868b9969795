"""Exponential moving average of a model's weights (Polyak averaging), as MACE and NequIP train.

After every optimiser step each trainable parameter θ updates its shadow θ̄:

    θ̄ ← d θ̄ + (1 − d) θ,    d = min(decay, (1 + n) / (10 + n)),

n the number of updates so far (the warm-up keeps the first, random weights from
dominating). Validation and checkpoints use θ̄; the optimiser keeps stepping θ. With batch
size 1 the per-step weights jump with each structure; θ̄ averages about 1 / (1 − decay)
steps of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


class WeightAverage:
    """The shadow weights θ̄ of ``net``'s trainable parameters.

    Args:
        net: the model being trained.
        decay: d in [0, 1); 0.99 averages about the last 100 steps.
    """

    def __init__(self, net: torch.nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must lie in [0, 1), got {decay}")
        self.net, self.decay, self.updates = net, float(decay), 0
        self.shadow = {k: p.detach().clone() for k, p in self._params()}

    def _params(self) -> Iterator[tuple[str, torch.nn.Parameter]]:
        return ((k, p) for k, p in self.net.named_parameters() if p.requires_grad)

    @torch.no_grad()
    def update(self) -> None:
        """θ̄ ← d θ̄ + (1 − d) θ, after an optimiser step."""
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for k, p in self._params():
            self.shadow[k].mul_(d).add_(p.detach(), alpha=1.0 - d)
        self.updates += 1

    @contextlib.contextmanager
    def averaged(self) -> Iterator[dict]:
        """Within the block the model holds θ̄; yields the raw weights θ (copies)."""
        with torch.no_grad():
            raw = {k: p.detach().clone() for k, p in self._params()}
        self.copy_to_model()
        try:
            yield raw
        finally:
            with torch.no_grad():
                for k, p in self._params():
                    p.copy_(raw[k])

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """Leave θ̄ in the model (the end of training)."""
        for k, p in self._params():
            p.copy_(self.shadow[k])

    def state(self, raw: dict) -> dict:
        """What a resumed run needs beside the checkpoint's weights (which are θ̄)."""
        return {"updates": self.updates, "raw": {k: v.cpu() for k, v in raw.items()}}

    @torch.no_grad()
    def restore(self, state: dict) -> None:
        """Resume: the model holds θ̄ (read from the checkpoint); put θ back, θ̄ aside."""
        self.updates = int(state["updates"])
        for k, p in self._params():
            self.shadow[k] = p.detach().clone()
            p.copy_(state["raw"][k].to(p.device))
