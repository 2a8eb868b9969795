"""Decoupled weight decay (``train.weight_decay``): which parameters decay, and by how much."""

from __future__ import annotations

import pytest
import torch

from rhocat.errors import InputError, ModelError
from rhocat.train import train_model
from rhocat.train.config import resolve_config
from rhocat.train.loop import make_optimizer


class _WithBaseline(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.baseline = torch.nn.Parameter(torch.ones(3, 2))
        self.lin = torch.nn.Linear(2, 2)


def _weights_norm2(params: dict) -> float:
    """Σ |w|² over the parameters other than the baseline."""
    return sum(float(v.detach().norm()) ** 2 for k, v in params.items() if k != "baseline")


@pytest.mark.parametrize("bad", [-1e-3, "0.1", True])
def test_config_refuses_a_decay_that_is_not_a_number_at_least_0(bad):
    with pytest.raises(InputError, match="weight_decay"):
        resolve_config("basis", {"train": {"weight_decay": bad}})


def test_without_decay_the_optimizer_is_plain_adam():
    opt = make_optimizer(_WithBaseline(), {"lr": 1e-3, "weight_decay": 0.0})
    assert type(opt) is torch.optim.Adam


def test_a_step_without_gradient_shrinks_the_weights_by_lr_times_decay_but_not_the_baseline():
    net = _WithBaseline()
    opt = make_optimizer(net, {"lr": 0.1, "weight_decay": 0.5})
    assert isinstance(opt, torch.optim.AdamW)
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    for p in net.parameters():
        p.grad = torch.zeros_like(p)  # Adam's own step is 0: only the decay moves them
    opt.step()
    for name, p in net.named_parameters():
        factor = 1.0 if name == "baseline" else 1.0 - 0.1 * 0.5
        torch.testing.assert_close(p.detach(), before[name] * factor)


def test_training_with_decay_leaves_smaller_weights_from_the_same_start(real_samples, tiny_basis):
    plain = train_model(real_samples, "basis", tiny_basis, steps=6, progress=False)
    tiny_basis["train"]["weight_decay"] = 20.0
    decayed = train_model(real_samples, "basis", tiny_basis, steps=6, progress=False)
    w_plain = dict(plain.model.named_parameters())
    w_decayed = dict(decayed.model.named_parameters())
    assert _weights_norm2(w_decayed) < 0.9 * _weights_norm2(w_plain)
    assert plain.losses[0] == pytest.approx(decayed.losses[0])  # same start, same data


def test_resuming_with_another_decay_is_refused(real_samples, tiny_basis, tmp_path):
    out = tmp_path / "m.pt"
    train_model(real_samples, "basis", tiny_basis, steps=4, out=out, progress=False, stop_after=2)
    tiny_basis["train"]["weight_decay"] = 0.1
    with pytest.raises(ModelError, match="weight_decay"):
        train_model(
            real_samples, "basis", tiny_basis, steps=4, out=out, progress=False, resume=True
        )
    tiny_basis["train"]["weight_decay"] = 0.0  # the run's own setting resumes
    rest = train_model(
        real_samples, "basis", tiny_basis, steps=4, out=out, progress=False, resume=True
    )
    assert len(rest.losses) == 2
