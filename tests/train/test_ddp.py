"""DDP through torchrun (gloo, 2 CPU processes) equals one process with the same global batch."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rhocat.train import train_model


@pytest.mark.slow
def test_torchrun_two_processes_match_one_process(real_samples, tiny_basis, tmp_path):
    train = [s for s in real_samples if s.split == "train"]
    (tmp_path / "samples.pkl").write_bytes(pickle.dumps(real_samples))
    (tmp_path / "config.json").write_text(json.dumps(tiny_basis))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(Path(__file__).with_name("ddp_worker.py")),
        str(tmp_path / "samples.pkl"), str(tmp_path / "config.json"), str(tmp_path),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads((tmp_path / "ddp.json").read_text())
    assert got["world"] == 2
    assert (tmp_path / "ddp.pt").is_file()
    # one process, two structures per step: the same structures, the same averaged gradient
    tiny_basis["train"]["batch_size"] = 2
    ref = train_model(train + [real_samples[3]], "basis", tiny_basis, steps=3, progress=False)
    np.testing.assert_allclose(got["losses"], ref.losses, rtol=1e-9)
    flat = torch.cat([p.detach().reshape(-1) for p in ref.model.parameters()]).numpy()
    np.testing.assert_allclose(got["params"], flat, rtol=1e-7, atol=1e-10)
