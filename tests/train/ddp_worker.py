"""Run by test_ddp via torchrun: train a tiny model on pickled samples, dump losses (rank 0)."""

import json
import os
import pickle
import sys

import torch

from rhocat.train import train_model

samples_path, config_path, out_dir = sys.argv[1:4]
torch.set_num_threads(1)
with open(samples_path, "rb") as fh:
    samples = pickle.load(fh)
with open(config_path) as fh:
    config = json.load(fh)
res = train_model(
    samples, "basis", config, steps=3, out=os.path.join(out_dir, "ddp.pt"), progress=False
)
if int(os.environ.get("RANK", "0")) == 0:
    flat = torch.cat([p.detach().reshape(-1) for p in res.model.parameters()])
    with open(os.path.join(out_dir, "ddp.json"), "w") as fh:
        json.dump(
            {"losses": res.losses, "world": int(os.environ["WORLD_SIZE"]), "params": flat.tolist()},
            fh,
        )
