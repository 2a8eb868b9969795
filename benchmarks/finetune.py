"""Fine-tune a trained ensemble (or train members from scratch) on a snapshot's train split.

Each member of the ensemble INIT continues training from its weights (fresh optimiser and
learning-rate schedule, :func:`rhocat.train.train_ensemble` with ``init_from``) on the
snapshot's train split; without ``--init`` member k trains from scratch with seed k and
``--config`` (a training configuration, :func:`rhocat.train.config.resolve_config`).
``--oversample Cr=3`` puts every training structure containing Cr into the list three
times, so that it is drawn three times as often. ``--add-charge-eq`` gives each member of
INIT a charge-equilibration head before its fine-tuning (χ = 0: the same prediction until
trained; :func:`with_charge_equilibration`). Members train one per
``--members`` entry (run two processes with disjoint lists to use two cores); a rerun skips
finished members and resumes interrupted ones.

    python benchmarks/finetune.py benchmarks/dataset/dataset \\
        --snapshot benchmarks/full_snapshot.json --init src/rhocat/pretrained/default.pt \\
        --steps 3000 --lr 1e-3 --oversample Cr=3 --members 0,1,2 \\
        -o benchmarks/checkpoints/finetune-cr3.pt

``--evaluate SNAPSHOT`` (with ``--compare CKPT`` for a reference row) assembles the
ensemble once all members are done, chooses its shrinkage c on that snapshot's validation
split, and writes JSON (``--report``) with the Hartree share of Δρ captured (closed form,
no SCF) on validation and test, overall and per group (cells with Cr, with Fe and neither;
a group is reported, never chosen on), under ``trained`` (the ensemble of this run,
fine-tuned or from scratch) and ``compare``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

GROUPS = ("Cr", "Fe")


def group_of(sid: str) -> str:
    """'Cr' for an id whose formula holds Cr, else 'Fe' for one with Fe, else 'other'."""
    formula = sid.split("-", 1)[-1].split("~")[0]
    symbols = set(re.findall(r"[A-Z][a-z]?", formula))
    return next((g for g in GROUPS if g in symbols), "other")


def training_samples(ds, snap: dict, oversample: dict[str, int]) -> list:
    """The snapshot's train and val samples, with each train structure that contains an
    element of ``oversample`` repeated that many times (the largest factor applies)."""
    train = [ds.load(i) for i in snap["train"]]
    val = [ds.load(i) for i in snap["val"]]
    out = []
    for s in train:
        repeat = max([oversample[e] for e in s.elements if e in oversample], default=1)
        out.extend([s] * repeat)
    return out + val


def keep_combinations(samples: list, fraction: float, seed: int = 0) -> list:
    """The training samples whose element combination (set of elements) is in a seeded
    ``fraction`` of the combinations present (at least one), validation samples untouched."""
    import random

    combos = sorted({"-".join(s.elements) for s in samples if s.split == "train"})
    kept = set(random.Random(seed).sample(combos, max(1, round(fraction * len(combos)))))
    return [s for s in samples if s.split != "train" or "-".join(s.elements) in kept]


def figures(model, samples: list, c: float) -> dict:
    """Captured share (%) of Δρ at shrinkage ``c``: mean, median, worst overall and the mean
    per group, with the per-cell values."""
    from rhocat.evaluate.density import capture_summary
    from rhocat.models.ensemble import captured_after_shrink, shrinkage_stats

    stats = shrinkage_stats(model, samples)
    cap = captured_after_shrink(stats, 1.0 / (1.0 + c * stats[:, 3] ** 2))
    ids = [s.id for s in samples]
    out = {
        **capture_summary(cap, ids),
        "groups": {},
        "cells": dict(zip(ids, map(float, cap), strict=True)),
    }
    for g in (*GROUPS, "other"):
        vals = [v for i, v in zip(ids, cap, strict=True) if group_of(i) == g]
        mean = float(np.mean(vals)) if vals else None
        out["groups"][g] = {"n": len(vals), "captured_mean_pct": mean}
    return out


def evaluate(path: str, dataset: str, snapshot: str) -> dict:
    """Validation and test figures of the ensemble at ``path``, c chosen on validation."""
    from rhocat.data.store import Dataset
    from rhocat.models.ensemble import calibrate_shrinkage
    from rhocat.train import load_model

    ds = Dataset(dataset)
    snap = json.loads(Path(snapshot).read_text())
    val = [ds.load(i) for i in snap["val"]]
    test = [ds.load(i) for k, ids in snap.items() if k.startswith("test") for i in ids]
    model = load_model(path)
    c, curve = calibrate_shrinkage(model, val)
    return {
        "model": path,
        "snapshot": snapshot,
        "chosen_c": c,
        "val_curve": curve,
        "val": figures(model, val, c),
        "test": figures(model, test, c),
    }


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.snapshot import split_snapshot
    from rhocat.data.store import Dataset
    from rhocat.train import load_model
    from rhocat.train.ensemble import member_path, train_ensemble

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("dataset")
    ap.add_argument("--snapshot", required=True, help="ids per split the members train on")
    ap.add_argument("--init", default=None, help="the ensemble checkpoint to fine-tune")
    ap.add_argument("--config", default=None, help="configuration of members from scratch")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument(
        "--lr",
        type=float,
        default=None,
        help="decays to lr/10 at the last step [1e-3 with --init, else the config's]",
    )
    ap.add_argument("--batch-size", type=int, default=None, help="structures per step [1]")
    ap.add_argument("--loss", default=None, help="training loss (rhocat.train.config.LOSSES)")
    ap.add_argument("--oversample", default="", help="ELEMENT=FACTOR[,...] (e.g. Cr=3)")
    ap.add_argument(
        "--combinations",
        type=float,
        default=1.0,
        help="train on a seeded fraction of the training element combinations",
    )
    ap.add_argument("--members", default="0,1,2,3,4", help="member indices to train here")
    ap.add_argument(
        "--add-charge-eq",
        action="store_true",
        help="give each fine-tuned member a charge-equilibration head (starting at no transfer)",
    )
    ap.add_argument(
        "--seed-offset", type=int, default=0, help="member k trains with seed k + this [0]"
    )
    ap.add_argument("--n-members", type=int, default=5)
    ap.add_argument("--evaluate", default=None, metavar="SNAPSHOT", help="figures on it")
    ap.add_argument("--compare", default=None, help="another ensemble evaluated alike")
    ap.add_argument("-o", "--output", required=True, help="the fine-tuned ensemble checkpoint")
    ap.add_argument("--report", default=None, help="JSON figures [beside -o, .json]")
    args = ap.parse_args(argv)
    oversample = {k: int(v) for k, v in (p.split("=") for p in args.oversample.split(",") if p)}
    if not 0.0 < args.combinations <= 1.0:
        ap.error("--combinations is a fraction in (0, 1]")
    ds = Dataset(args.dataset)
    snap = split_snapshot(ds, args.snapshot)
    samples = training_samples(ds, snap, oversample)
    if args.combinations < 1.0:
        samples = keep_combinations(samples, args.combinations)
    config = _config(args, ap)
    members = [int(m) for m in args.members.split(",") if m]
    init = load_model(args.init) if members and args.init else None  # read once for all
    if args.add_charge_eq and not args.init:
        ap.error("--add-charge-eq adds a head to the members of --init")
    for k in members:
        start = init.member(k) if init else None
        if start is not None and args.add_charge_eq:
            start = with_charge_equilibration(start)
        _train_one(samples, args, config, k, start)
    if args.evaluate is None:
        return 0
    if not all(member_path(args.output, k).is_file() for k in range(args.n_members)):
        ap.error("not all members are trained yet")
    train_ensemble(
        samples, n_members=args.n_members, config=config, steps=args.steps,
        out=args.output, progress=False, init_from=args.init,
    )  # fmt: skip
    report = {**config["train"], "oversample": oversample, "steps": args.steps,
              "combinations": args.combinations, "seed_offset": args.seed_offset}  # fmt: skip
    report["trained"] = evaluate(args.output, args.dataset, args.evaluate)
    if args.compare:
        report["compare"] = evaluate(args.compare, args.dataset, args.evaluate)
    out = Path(args.report or Path(args.output).with_suffix(".json"))
    out.write_text(json.dumps(report, indent=1))
    for key in ("compare", "trained"):
        if key in report:
            r = report[key]
            print(key, r["chosen_c"], {s: _short(r[s]) for s in ("val", "test")})
    return 0


def _config(args, ap) -> dict:
    """The members' configuration: ``--config`` (from scratch) or the fine-tuned members'
    own, with the learning rate, batch size and loss given on the command line."""
    from rhocat.train.config import resolve_config

    if args.init and args.config:
        ap.error("--config is for members from scratch; a fine-tuned member keeps its own")
    config = resolve_config("basis", args.config) if args.config else {"train": {}}
    train = config["train"]
    if args.init:
        train.update(lr=1e-3, lr_final_factor=0.1, batch_size=1)
    given = {"lr": args.lr, "batch_size": args.batch_size, "loss": args.loss}
    train.update({k: v for k, v in given.items() if v is not None})
    return config


def with_charge_equilibration(member):
    """A copy of the basis model ``member`` with a charge-equilibration head
    (:class:`rhocat.models.equivariant.ChargeEquilibration`) whose χ starts at zero, so the
    copy predicts exactly what ``member`` does until it is trained; metadata kept."""
    import copy

    from rhocat.models.registry import build_model

    config = {**copy.deepcopy(member.config), "charge_equilibration": True}
    net = build_model(member.kind, config, member.elements)
    missing, unexpected = net.load_state_dict(member.state_dict(), strict=False)
    if unexpected or any(not k.startswith("charge_eq.") for k in missing):
        raise ValueError(f"not a basis model without the head: {missing}, {unexpected}")
    net.metadata = copy.deepcopy(member.metadata)
    if getattr(member, "becsum_model", None) is not None:
        net.becsum_model = copy.deepcopy(member.becsum_model)
    return net


def _short(fig: dict) -> dict:
    keep = ("captured_mean_pct", "captured_median_pct", "captured_worst_pct", "worst_id")
    return {
        **{k: fig[k] for k in keep},
        **{g: v["captured_mean_pct"] for g, v in fig["groups"].items()},
    }


def _train_one(samples: list, args, config: dict, k: int, start) -> None:
    """``start`` (member ``k`` of the ensemble ``args.init``, or None: from scratch) trained
    with ``config`` and seed k + ``args.seed_offset`` into member k's path (skipped when
    finished, resumed when interrupted)."""
    from rhocat.train.ensemble import member_path, steps_done
    from rhocat.train.loop import train_model

    cfg = {**config, "train": {**config["train"], "seed": k + args.seed_offset}}
    path = member_path(args.output, k)
    done = steps_done(path)
    if done is not None and done >= args.steps:
        return
    train_model(
        samples, model="basis", config=cfg, steps=args.steps, out=path, progress=False,
        resume=done is not None, init_from=start,
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
