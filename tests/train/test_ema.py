"""The weights' moving average: the update rule, the swap, and training with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rhocat.errors import InputError, ModelError
from rhocat.train import load_model, train_model
from rhocat.train.config import resolve_config
from rhocat.train.ema import WeightAverage


def _linear() -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def test_update_follows_the_rule_with_its_warm_up():
    net = _linear()
    ema = WeightAverage(net, decay=0.9)
    start = net.weight.detach().clone()
    expected = start.clone()
    for n in range(200):
        with torch.no_grad():
            net.weight.add_(1.0)
        d = min(0.9, (1 + n) / (10 + n))
        expected = d * expected + (1 - d) * net.weight.detach()
        ema.update()
    torch.testing.assert_close(ema.shadow["weight"], expected)
    # past the warm-up (n > 81) θ̄ lags behind θ by decay / (1 − decay) = 9 steps
    lag = (net.weight - ema.shadow["weight"]).mean().item()
    assert 8.9 < lag < 9.1


def test_averaged_swaps_in_and_back_and_restore_resumes():
    net = _linear()
    ema = WeightAverage(net, decay=0.5)
    for _ in range(5):
        with torch.no_grad():
            net.weight.mul_(1.5)
        ema.update()
    raw_weight = net.weight.detach().clone()
    with ema.averaged() as raw:
        torch.testing.assert_close(net.weight.detach(), ema.shadow["weight"])
        torch.testing.assert_close(raw["weight"], raw_weight)
        state = ema.state(raw)
        averaged = net.weight.detach().clone()
    torch.testing.assert_close(net.weight.detach(), raw_weight)
    # a resumed run: the model is read back holding θ̄, the state gives θ back
    other = _linear()
    with torch.no_grad():
        other.weight.copy_(averaged)
    again = WeightAverage(other, decay=0.5)
    again.restore(state)
    torch.testing.assert_close(other.weight.detach(), raw_weight)
    torch.testing.assert_close(again.shadow["weight"], averaged)
    assert again.updates == 5


@pytest.mark.parametrize("bad", [-0.1, 1.0, "0.9"])
def test_config_refuses_a_decay_outside_0_1(bad):
    with pytest.raises(InputError, match="ema_decay"):
        resolve_config("basis", {"train": {"ema_decay": bad}})


def test_training_saves_the_average_and_resumes_exactly(real_samples, tiny_basis, tmp_path):
    tiny_basis["train"]["ema_decay"] = 0.8
    full = train_model(
        real_samples, "basis", tiny_basis, steps=6, out=tmp_path / "a.pt", progress=False
    )
    plain = dict(tiny_basis, train=dict(tiny_basis["train"], ema_decay=0.0))
    raw = train_model(real_samples, "basis", plain, steps=6, progress=False)
    np.testing.assert_allclose(raw.losses, full.losses, rtol=1e-12)  # θ's path is unchanged
    saved = load_model(tmp_path / "a.last.pt")
    w_saved = dict(saved.named_parameters())
    w_raw = dict(raw.model.named_parameters())
    w_ret = dict(full.model.named_parameters())
    moved = [k for k in w_raw if not torch.allclose(w_raw[k], w_saved[k])]
    assert moved  # the checkpoint holds θ̄, not θ
    for k in w_ret:
        torch.testing.assert_close(w_ret[k], w_saved[k])  # and so does the returned model
    part = train_model(
        real_samples, "basis", tiny_basis, steps=6, out=tmp_path / "b.pt", progress=False,
        stop_after=4,
    )  # fmt: skip
    rest = train_model(
        real_samples, "basis", tiny_basis, steps=6, out=tmp_path / "b.pt", progress=False,
        resume=True,
    )  # fmt: skip
    np.testing.assert_allclose(part.losses + rest.losses, full.losses, rtol=1e-12)
    resumed = dict(load_model(tmp_path / "b.last.pt").named_parameters())
    for k in w_saved:
        torch.testing.assert_close(resumed[k], w_saved[k])


def test_resume_of_a_run_without_the_average_is_refused(real_samples, tiny_basis, tmp_path):
    train_model(
        real_samples, "basis", tiny_basis, steps=4, out=tmp_path / "c.pt", progress=False,
        stop_after=2,
    )  # fmt: skip
    tiny_basis["train"]["ema_decay"] = 0.9
    with pytest.raises(ModelError, match="without ema_decay"):
        train_model(
            real_samples, "basis", tiny_basis, steps=4, out=tmp_path / "c.pt", progress=False,
            resume=True,
        )  # fmt: skip
