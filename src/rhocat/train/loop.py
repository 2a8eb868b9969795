"""``train_model``: fit a density model on a dataset, with checkpoints, metrics and DDP.

One code path for one process and for ``torchrun`` (PyTorch DDP): when ``WORLD_SIZE`` is
set, ``torch.distributed`` is initialised (gloo on the CPU, nccl on CUDA), each process
takes its share of every step's structures and DDP averages the gradients. Only rank 0
validates and writes files.

The order of structures and of sampled probe points depends only on (seed, step), so a
resumed run reproduces the losses of an uninterrupted one.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from rhocat.errors import InputError, ModelError
from rhocat.fileio import atomic_path
from rhocat.models.base import DensityModel
from rhocat.models.becsum_fit import fit_occupation_model
from rhocat.models.equivariant import BOHR_PER_ANGSTROM, EquivariantBasisModel
from rhocat.models.graph import atom_graph
from rhocat.models.grid import g_to_grid, grid_points_bohr
from rhocat.models.pointwise import PointwiseModel
from rhocat.models.radial import RadialModel, fit_radial_table_choosing
from rhocat.models.registry import build_model, predict_delta_rho_g
from rhocat.train.checkpoint import (
    checkpoint_dict,
    model_from_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from rhocat.train.config import resolve_config
from rhocat.train.data import elements_of, split_samples
from rhocat.train.ema import WeightAverage
from rhocat.train.metrics import density_metrics, g_to_grid_torch, loss_g, mean_metrics

CSV_FIELDS = [
    "step", "loss", "lr", "elapsed_s", "structures_per_s",
    "val_mae", "val_nmae_pct", "val_nmae_acs_pct", "val_hartree_ry", "val_hartree_acs_ry",
    "val_captured_pct",
]  # fmt: skip


#: Prefix of the metadata keys that hold warm-start settings measured for one model (its
#: card: ``warm_diago_thr_init``, ``warm_occupations``, ...); a fine-tuned model is another
#: model and starts without them, until they are measured for it.
CARD_PREFIX = "warm_"
#: Metadata key naming where an in-memory starting model came from (e.g. an ensemble's
#: member k); read and dropped by a fine-tuning run, which records ``fine_tuned_from``.
FINE_TUNE_SOURCE = "fine_tune_source"


@dataclass
class TrainResult:
    """What :func:`train_model` produced. Paths are None on ranks other than 0."""

    model: DensityModel
    best_path: Path | None
    last_path: Path | None
    metrics_path: Path | None
    losses: list[float] = field(default_factory=list)
    val: dict[str, float] = field(default_factory=dict)
    train_s: float = 0.0


def output_paths(out: str | os.PathLike) -> tuple[Path, Path, Path]:
    """(best checkpoint, last checkpoint, metrics CSV) for an output name like ``model.pt``."""
    out = Path(out)
    stem = out.name[:-3] if out.name.endswith(".pt") else out.name
    return out, out.with_name(f"{stem}.last.pt"), out.with_name(f"{stem}.metrics.csv")


class _Prepared:
    """Tensors of one structure, computed once."""

    def __init__(self, sample, model: DensityModel, device: torch.device, need_grid: bool):
        self.sample = sample
        self.numbers = torch.as_tensor(np.asarray(sample.numbers), dtype=torch.long, device=device)
        self.pos = torch.as_tensor(
            np.asarray(sample.positions_bohr, dtype=np.float64), device=device
        )
        self.cell = torch.as_tensor(np.asarray(sample.cell_bohr, dtype=np.float64), device=device)
        self.g = torch.as_tensor(np.asarray(sample.g_cart, dtype=np.float64), device=device)
        self.target = torch.as_tensor(
            np.asarray(sample.delta_rho_g), dtype=torch.complex128, device=device
        )
        self.volume = float(sample.volume_bohr3)
        self.n_atoms = len(sample.numbers)
        self.miller = np.asarray(sample.miller)
        self.shape = tuple(int(n) for n in sample.fft_grid)
        self.graph = (
            model.graph(sample.positions_bohr, sample.cell_bohr)
            if isinstance(model, EquivariantBasisModel)
            else None
        )
        self.grid = None
        if need_grid:
            grid = g_to_grid(np.asarray(sample.delta_rho_g), self.miller, self.shape)
            self.grid = torch.as_tensor(grid.reshape(-1), device=device)


class _StepLoss(torch.nn.Module):
    """Loss of a list of prepared structures (the module DDP wraps)."""

    def __init__(self, model: DensityModel, loss: str, probes: int, seed: int):
        super().__init__()
        self.model = model
        self.loss = loss
        self.probes = probes
        self.seed = seed

    def forward(self, batch: list[_Prepared], step: int, rank: int) -> torch.Tensor:
        total = 0.0
        for k, p in enumerate(batch):
            total = total + self._one(p, step, rank, k)
        return total / len(batch)

    def _one(self, p: _Prepared, step: int, rank: int, k: int) -> torch.Tensor:
        m = self.model
        if isinstance(m, PointwiseModel):
            rng = np.random.default_rng([self.seed, step, rank, k])
            idx = rng.choice(p.grid.numel(), size=min(self.probes, p.grid.numel()), replace=False)
            pts = grid_points_bohr(p.sample.cell_bohr, p.shape)[idx]
            states = m.atom_states(p.numbers, p.sample.positions_bohr, p.sample.cell_bohr)
            pred = m.probe_values(states, p.sample.positions_bohr, p.sample.cell_bohr, pts)
            err = pred - p.grid[torch.as_tensor(idx, device=p.grid.device)]
            return err.abs().mean() if self.loss == "l1_real" else (err**2).mean()
        pred = m.delta_rho_g_torch(p.numbers, p.pos, p.cell, p.g, graph=p.graph)
        if self.loss in ("hartree", "hartree_rel", "l2_g"):
            return loss_g(self.loss, pred, p.target, p.g, p.volume, p.n_atoms)
        err = g_to_grid_torch(pred, p.miller, p.shape).reshape(-1) - p.grid
        return err.abs().mean() if self.loss == "l1_real" else (err**2).mean()


#: Parameters that :func:`make_optimizer` never decays: the per-element l = 0 baseline (the
#: floor a member starts from, in the basis's coefficient units) is a fit, not a weight.
UNDECAYED = ("baseline",)


def make_optimizer(net: torch.nn.Module, tcfg: dict) -> torch.optim.Optimizer:
    """Adam at ``tcfg["lr"]``; with ``tcfg["weight_decay"]`` = λ > 0, AdamW, whose step also
    multiplies every weight by (1 − lr·λ), except the parameters named in
    :data:`UNDECAYED`, which take plain Adam steps."""
    wd = float(tcfg.get("weight_decay", 0.0))
    if wd <= 0.0:
        return torch.optim.Adam(net.parameters(), lr=tcfg["lr"])
    decayed, kept = [], []
    for name, p in net.named_parameters():
        (kept if name.split(".")[-1] in UNDECAYED else decayed).append(p)
    groups = [{"params": decayed, "weight_decay": wd}, {"params": kept, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=tcfg["lr"])


def _dist_setup(device: str) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _validate(model: DensityModel, val: list) -> dict[str, float]:
    rows = []
    model.eval()
    for s in val:
        pred = predict_delta_rho_g(
            model, s.numbers, s.positions_bohr, s.cell_bohr, s.miller, fft_grid=tuple(s.fft_grid)
        )
        rows.append(density_metrics(s, pred))
    model.train()
    return mean_metrics(rows)


def _avg_neighbours(samples: list, cutoff_ang: float) -> float:
    counts = [
        len(atom_graph(s.positions_bohr, s.cell_bohr, cutoff_ang * BOHR_PER_ANGSTROM)[0])
        / len(s.numbers)
        for s in samples
    ]
    return max(float(np.mean(counts)), 1.0)


def train_model(
    data: Any,
    model: str = "basis",
    config: str | dict | os.PathLike | None = "small",
    steps: int | None = None,
    device: str = "cpu",
    out: str | os.PathLike | None = None,
    val_every: int | None = None,
    resume: bool = False,
    metadata: dict | None = None,
    loss: str | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    init_from: DensityModel | str | os.PathLike | None = None,
    lr: float | None = None,
) -> TrainResult:
    """Train a density model of Δρ = ρ_SCF − ρ_ACS.

    Args:
        data: a dataset (``ids(split)``/``load(id)``) or a list of DensitySample; split
            'train' trains (all samples if none is labelled), split 'val' validates.
        model: 'basis' (default, equivariant), 'radial' (closed-form floor) or 'pointwise'.
        config: preset name ('small', 'large'), a dict ``{preset, model, train}``, or a JSON file.
        steps: optimisation steps (overrides the config; ignored by 'radial').
        device: 'cpu' or 'cuda[:n]'.
        out: best checkpoint path (``model.pt``); ``model.last.pt`` and
            ``model.metrics.csv`` are written next to it. None: no files.
        val_every: validate (and write the last checkpoint) every N steps.
        resume: continue from ``model.last.pt`` (same next loss as an uninterrupted run).
        metadata: JSON-able facts stored in the checkpoint, over those found in the
            data: the dataset's ``pseudo_family``, ``protocol`` and path (from its
            manifest), the per-element md5 ``pseudo_md5`` and the QE version (from
            the samples).
        loss: 'hartree' (G space, 4π/G² weight), 'hartree_rel' (the same over the target's),
            'l2_g', 'l2_real', 'l1_real' (overrides config).
        progress: show a tqdm bar (rank 0).
        stop_after: stop after this many steps of this run (then ``resume=True`` continues).
        init_from: fine-tune: a trained model (or its checkpoint file) of kind ``model``
            whose weights start the run. Its model config, radial baseline and PAW
            occupation model are kept (the ``model`` section of ``config`` is not used);
            the optimiser, the learning-rate schedule and the best score start afresh.
            Every element of the training split must be one of its elements. A resumed
            run continues from ``model.last.pt`` and ignores it.
        lr: initial learning rate (overrides config; it decays to ``lr_final_factor`` × lr).
    """
    cfg = _train_config(model, config, steps, val_every, loss, lr)
    dev = _device(device)
    rank, world = _dist_setup(device)
    best_path, last_path, csv_path = output_paths(out) if out is not None else (None, None, None)
    train, val = split_samples(data)
    meta = {**dataset_metadata(data), **_metadata_from_samples(train), **dict(metadata or {})}
    t0 = time.perf_counter()
    content = _resume_content(model, last_path) if resume else None
    start = _fine_tune_start(init_from, model, train, meta) if content is None else None
    net = _initial_model(model, cfg, train, val, dev, meta, content, start)
    if isinstance(net, RadialModel):
        net.fit(train, val)
        metrics = {"val": _validate(net, val) if val else {}, "train_s": time.perf_counter() - t0,
                   "ridge_lambda": net.config["ridge_lambda"],
                   "ridge_curve": {str(k): v for k, v in net.ridge_curve.items()}}  # fmt: skip
        for path in (best_path, last_path):
            _save(net, path, rank, metrics, None)
        return TrainResult(net, best_path, last_path, None, [], metrics["val"], metrics["train_s"])
    trainer = _Trainer(net, cfg["train"], train, val, dev, rank=rank, world=world,
                       paths=(best_path, last_path, csv_path), t0=t0)  # fmt: skip
    trainer.restore(content)
    losses, last_val = trainer.run(stop_after, progress, f"train {model}")
    if world > 1:
        dist.barrier()
    return TrainResult(
        net, best_path, last_path, csv_path, losses, last_val, time.perf_counter() - t0
    )


def _train_config(
    model: str, config: Any, steps: int | None, val_every: int | None, loss: str | None,
    lr: float | None = None,
) -> dict:  # fmt: skip
    """The resolved ``{model, train}`` config with the call's overrides; InputError when
    ``steps`` or ``val_every`` is not positive."""
    cfg = resolve_config(model, config)
    tcfg = cfg["train"]
    if steps is not None:
        tcfg["steps"] = int(steps)
    if lr is not None:
        tcfg["lr"] = float(lr)
    if val_every is not None:
        tcfg["val_every"] = int(val_every)
    if loss is not None:
        tcfg["loss"] = loss
        cfg = resolve_config(model, {"model": cfg["model"], "train": tcfg})
        tcfg = cfg["train"]
    if tcfg["steps"] < 1 or tcfg["val_every"] < 1:
        raise InputError("steps and val_every must be positive")
    return cfg


def _device(device: str) -> torch.device:
    """``device`` as a torch device; InputError when unknown or when CUDA is absent."""
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise InputError(f"unknown device {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda requested but no CUDA GPU is available")
    return dev


def _resume_content(model: str, last_path: Path | None) -> dict:
    """The last checkpoint to resume from; ModelError when absent or of another kind."""
    if last_path is None or not last_path.is_file():
        raise ModelError(f"nothing to resume: {last_path} does not exist")
    content = read_checkpoint(last_path)
    if content["kind"] != model:
        raise ModelError(f"{last_path} holds a {content['kind']} model, not {model}")
    return content


def _fine_tune_start(
    init: DensityModel | str | os.PathLike | None, model: str, train: list, meta: dict
) -> DensityModel | None:
    """A copy of the model a fine-tuning run starts from (None: train from scratch), with
    ``fine_tuned_from`` in its metadata and without the warm-start settings measured for
    the starting model (metadata keys ``warm_*``); see :func:`_refuse_start`."""
    if init is None:
        return None
    origin = (
        init.metadata.get(FINE_TUNE_SOURCE, "a model in memory")
        if isinstance(init, DensityModel)
        else str(init)
    )
    if isinstance(init, str | os.PathLike):
        init = model_from_checkpoint(read_checkpoint(init))
    _refuse_start(init, model, train, meta)
    net = copy.deepcopy(init)
    kept = {k: v for k, v in net.metadata.items() if not k.startswith(CARD_PREFIX)}
    net.metadata = {**kept, "fine_tuned_from": origin}
    net.metadata.pop(FINE_TUNE_SOURCE, None)
    return net


def _refuse_start(init: DensityModel, model: str, train: list, meta: dict) -> None:
    """InputError when ``init`` cannot start a fine-tuning run of kind ``model`` on
    ``train``: an ensemble or the radial floor, another kind, elements it lacks, or data of
    another pseudopotential family or file (``meta``'s ``pseudo_family`` and per-element
    ``pseudo_md5``), which its ACS-relative Δρ and PAW occupation model do not transfer to."""
    if init.kind == "ensemble":
        raise InputError("fine-tune an ensemble member by member: train_ensemble(init_from=...)")
    if isinstance(init, RadialModel):
        raise InputError("the radial floor is fitted in closed form: there is nothing to fine-tune")
    if init.kind != model:
        raise InputError(f"cannot fine-tune a {init.kind!r} model as {model!r}")
    theirs, ours = init.metadata.get("pseudo_family"), meta.get("pseudo_family")
    if theirs and ours and theirs != ours:
        raise InputError(
            f"the model to fine-tune was trained on {theirs!r} pseudopotentials, the data "
            f"is {ours!r}: train from scratch instead"
        )
    old_md5, new_md5 = init.metadata.get("pseudo_md5") or {}, meta.get("pseudo_md5") or {}
    changed = sorted(e for e in set(old_md5) & set(new_md5) if old_md5[e] != new_md5[e])
    if changed:
        raise InputError(
            "the model to fine-tune was trained with other pseudopotential files for "
            f"{', '.join(changed)} (md5 differs): train from scratch instead"
        )
    missing = sorted(set(elements_of(train)) - set(init.elements))
    if missing:
        from ase.data import chemical_symbols

        names = ", ".join(chemical_symbols[z] for z in missing)
        raise InputError(f"the model to fine-tune was not trained on {names}")


def _initial_model(
    model: str,
    cfg: dict,
    train: list,
    val: list,
    dev: torch.device,
    meta: dict,
    content,
    start: DensityModel | None = None,
) -> DensityModel:
    """The model to optimise: the resumed one, a copy of ``start`` (fine-tuning), or a new
    one (seeded weights, identical on every rank) with its PAW occupation model and, for
    'basis', its radial baseline."""
    if content is not None:
        net = model_from_checkpoint(content)
        net.to(dev)
    elif start is not None:
        net = start.to(dev)
    else:
        mcfg = dict(cfg["model"])
        if model == "basis" and "avg_neighbours" not in mcfg:
            mcfg["avg_neighbours"] = _avg_neighbours(train, float(mcfg.get("cutoff_ang", 4.5)))
        torch.manual_seed(cfg["train"]["seed"])  # identical initial weights on every rank
        net = build_model(model, mcfg, elements_of(train)).to(dev)
    net.metadata = {**net.metadata, **meta, "train_config": cfg["train"]}
    if content is None and start is None:
        occ = fit_occupation_model(train, net.metadata.get("pseudo_family"), val)
        if occ is not None:
            net.becsum_model = occ
        if isinstance(net, EquivariantBasisModel):
            ridge, scale = net.config["baseline_ridge_lambda"], net.config["baseline_ridge_scale"]
            table, lam, _ = fit_radial_table_choosing(
                train, val, net.spec, net.elements, ridge, scale
            )
            net.config["baseline_ridge_lambda"] = lam  # the λ used, when chosen on 'val'
            net.set_baseline(table)
    return net


def _save(net: DensityModel, path: Path | None, rank: int, metrics: dict, state) -> None:
    """A checkpoint of ``net`` (rank 0 only; nothing when ``path`` is None)."""
    if path is not None and rank == 0:
        save_checkpoint(path, checkpoint_dict(net, metrics, state))


class _Trainer:
    """The optimisation of one model: :meth:`run` loops over steps, :meth:`take_step`
    makes one, :meth:`validate_and_save` validates and writes the checkpoints.

    Args:
        net: the model; tcfg: the ``train`` config (lr, schedule, batch, loss, seed).
        train, val: samples; dev: their device.
        rank, world: this process's rank and the number of processes (DDP).
        paths: (best checkpoint, last checkpoint, metrics CSV), each None for no file.
        t0: ``time.perf_counter()`` when :func:`train_model` started (``train_s`` counts
            the model's set-up too).
    """

    def __init__(self, net, tcfg: dict, train: list, val: list, dev, *, rank, world, paths, t0):
        self.net, self.tcfg, self.val, self.t0 = net, tcfg, val, t0
        self.rank, self.world, self.paths = rank, world, paths
        need_grid = tcfg["loss"] in ("l2_real", "l1_real")
        self.prepared = [_Prepared(s, net, dev, need_grid) for s in train]
        step_loss = _StepLoss(net, tcfg["loss"], int(tcfg["probes_per_step"]), int(tcfg["seed"]))
        self.runner: torch.nn.Module = step_loss
        if self.world > 1:
            self.runner = torch.nn.parallel.DistributedDataParallel(
                step_loss, find_unused_parameters=True
            )
        self.opt = make_optimizer(net, tcfg)
        self.ema = WeightAverage(net, tcfg["ema_decay"]) if tcfg["ema_decay"] > 0 else None
        self.n_steps = int(tcfg["steps"])
        self.gamma = tcfg["lr_final_factor"] ** (1.0 / max(self.n_steps - 1, 1))
        self.bsz = int(tcfg["batch_size"])
        self.start, self.best_val, self.history = 0, math.inf, []
        self.rows: list[dict] = []
        self.t_run = self.t0
        self.elapsed_before = 0.0

    def restore(self, content: dict | None) -> None:
        """Optimizer state, next step, best score and history of a resumed run, and the
        metrics CSV rows before that step (rank 0)."""
        if content is not None:
            state = content.get("train_state") or {}
            saved = [g.get("weight_decay", 0.0) for g in state["optimizer"]["param_groups"]]
            now = [g.get("weight_decay", 0.0) for g in self.opt.param_groups]
            if saved != now:
                raise ModelError(
                    f"the run to resume was trained with weight decays {saved} per parameter "
                    f"group, this one asks {now}: resume with its train.weight_decay"
                )
            self.opt.load_state_dict(state["optimizer"])
            self.start, self.best_val = int(state["step"]), float(state["best_val"])
            if self.ema is not None:
                if "ema" not in state:
                    raise ModelError("the run to resume was trained without ema_decay")
                self.ema.restore(state["ema"])
            self.history = json.loads(content.get("metrics", "{}")).get("history", [])
        csv_path = self.paths[2]
        self.rows = (
            read_metrics_csv(csv_path, self.start)
            if csv_path is not None and self.rank == 0
            else []
        )
        self.elapsed_before = float(self.rows[-1]["elapsed_s"]) if self.rows else 0.0

    def run(self, stop_after: int | None, progress: bool, desc: str):
        """Steps from the start (or resumed) step to the end, or ``stop_after`` of them.

        Returns:
            (the training loss of every step, the last validation metrics).
        """
        from rhocat.train.tensorboard import MetricsLog

        end = (
            self.n_steps if stop_after is None else min(self.n_steps, self.start + int(stop_after))
        )
        hide = not progress or self.rank != 0
        bar = tqdm(range(self.start, end), disable=hide, desc=desc, unit="step")
        self.t_run = time.perf_counter()
        csv_path = self.paths[2] if self.rank == 0 else None
        board = MetricsLog(csv_path)  # beside the CSV, if installed
        self.net.train()
        losses: list[float] = []
        last_val: dict[str, float] = {}
        for step in bar:
            loss_value = self.take_step(step)
            losses.append(loss_value)
            row = self._progress_row(step, loss_value, bar)
            due = (step + 1) % self.tcfg["val_every"] == 0 or step + 1 == end
            if due and self.rank == 0:
                last_val = self.validate_and_save(step, loss_value, row)
            self.rows.append(row)
            board.log(row)
            if due and csv_path is not None:
                _write_csv(csv_path, self.rows)
                board.flush()
        bar.close()
        board.close()
        if self.ema is not None:
            self.ema.copy_to_model()
        return losses, last_val

    def take_step(self, step: int) -> float:
        """One optimiser step on this step's batch; returns the loss averaged over ranks
        (ModelError when it is not finite)."""
        tcfg = self.tcfg
        for g in self.opt.param_groups:
            g["lr"] = tcfg["lr"] * self.gamma**step
        n, seed = len(self.prepared), int(tcfg["seed"])
        indices = _batch_indices(step, self.bsz, self.world, self.rank, n, seed)
        self.opt.zero_grad(set_to_none=False)
        value = self.runner([self.prepared[i] for i in indices], step, self.rank)
        value.backward()
        if tcfg["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), tcfg["grad_clip"])
        self.opt.step()
        if self.ema is not None:
            self.ema.update()
        logged = value.detach().clone()
        if self.world > 1:
            dist.all_reduce(logged)
            logged /= self.world
        loss_value = float(logged)
        if not math.isfinite(loss_value):
            raise ModelError(
                f"training diverged at step {step} (loss {loss_value}); lower the learning rate"
            )
        return loss_value

    def _progress_row(self, step: int, loss_value: float, bar) -> dict:
        """The metrics CSV row of ``step``: ``elapsed_s``, training seconds in all (those
        of the runs before a resume included, as their last row recorded them), and
        ``structures_per_s`` of this run; updates the bar."""
        elapsed = time.perf_counter() - self.t_run
        rate = (step + 1 - self.start) * self.bsz * self.world / max(elapsed, 1e-9)
        bar.set_postfix(loss=f"{loss_value:.3e}", structs_per_s=f"{rate:.1f}")
        total = self.elapsed_before + elapsed
        return {"step": step, "loss": loss_value, "lr": self.opt.param_groups[0]["lr"],
                "elapsed_s": round(total, 3), "structures_per_s": round(rate, 3)}  # fmt: skip

    def validate_and_save(self, step: int, loss_value: float, row: dict) -> dict[str, float]:
        """Validate (rank 0), add the metrics to ``row`` and the history, write the last
        checkpoint and, when the validation Hartree error (else the loss) is the best so
        far, the best one. Returns the validation metrics. With ``ema_decay`` both the
        validation and the checkpoints use the averaged weights."""
        if self.ema is None:
            return self._validate_and_save(step, loss_value, row, None)
        with self.ema.averaged() as raw:
            return self._validate_and_save(step, loss_value, row, self.ema.state(raw))

    def _validate_and_save(self, step, loss_value, row, ema_state) -> dict[str, float]:
        last_val = _validate(self.net, self.val) if self.val else {}
        row.update({f"val_{k}": v for k, v in last_val.items()})
        score = last_val.get("hartree_ry", loss_value)
        self.history.append({"step": step, "loss": loss_value, **last_val})
        metrics = {
            "val": last_val,
            "history": self.history,
            "train_s": time.perf_counter() - self.t0,
        }
        state = {"step": step + 1, "optimizer": self.opt.state_dict(),
                 "best_val": min(self.best_val, score)}  # fmt: skip
        if ema_state is not None:
            state["ema"] = ema_state
        best_path, last_path, _ = self.paths
        if score <= self.best_val:
            self.best_val = score
            _save(self.net, best_path, self.rank, metrics, state)
        _save(self.net, last_path, self.rank, metrics, state)
        return last_val


def dataset_metadata(data: Any) -> dict:
    """The family, protocol and path of a dataset, from its manifest ({} for a list of samples).

    The family named here is the one whose UPF files give the PAW occupations
    (:func:`fit_occupation_model`) and that ``predict`` checks the md5s against.
    """
    manifest = getattr(data, "manifest", None)
    if manifest is None:
        return {}
    out = {"pseudo_family": manifest.family, "protocol": manifest.protocol}
    if getattr(data, "path", None) is not None:
        out["dataset"] = str(data.path)
    return out


def _metadata_from_samples(samples: list) -> dict:
    """Pseudopotential md5s and QE version recorded in the samples' ``meta`` (if any), and
    ``train_ecutrho_ry``: the density cutoff (Ry) within which every training sample has Δρ."""
    md5: dict[str, str] = {}
    versions = set()
    for s in samples:
        meta = getattr(s, "meta", None) or {}
        for el, info in (meta.get("pseudos") or {}).items():
            got = info.get("md5") if isinstance(info, dict) else None
            if got is None:
                continue
            if md5.setdefault(el, got) != got:
                raise InputError(f"the training data mixes two pseudopotentials for {el}")
        if meta.get("qe_version"):
            versions.add(str(meta["qe_version"]))
    out: dict = {}
    if md5:
        out["pseudo_md5"] = md5
    if versions:
        out["qe_version"] = ", ".join(sorted(versions))
    spheres = [float(np.max(np.einsum("ij,ij->i", s.g_cart, s.g_cart))) for s in samples
               if getattr(s, "g_cart", None) is not None and len(s.g_cart)]  # fmt: skip
    if spheres:  # |G|² in bohr⁻² equals the kinetic cutoff in Ry
        out["train_ecutrho_ry"] = min(spheres)
    return out


def _batch_indices(step: int, bsz: int, world: int, rank: int, n: int, seed: int) -> list[int]:
    """Indices of this rank's structures at ``step``: epochs are seeded permutations."""
    per_step = bsz * world
    out = []
    for k in range(rank * bsz, rank * bsz + bsz):
        flat = step * per_step + k
        epoch, pos = divmod(flat, n)
        out.append(int(np.random.default_rng([seed, epoch]).permutation(n)[pos]))
    return out


def read_metrics_csv(path: Path, before_step: float = math.inf) -> list[dict]:
    """The rows of a metrics CSV (one per logged step) whose step is below ``before_step``;
    none when the file does not exist."""
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if int(r["step"]) < before_step]


def _write_csv(path: Path, rows: list[dict]) -> None:
    """The metrics CSV (one row per logged step), written atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
