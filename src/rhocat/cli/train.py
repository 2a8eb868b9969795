"""``rhocat train DATA -o model.pt``: fit a density model on a dataset."""

from __future__ import annotations

import argparse
import json

from rhocat.errors import InputError
from rhocat.train.config import LOSSES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a density model (Δρ = ρ_SCF − ρ_ACS) on a dataset",
        description="Train a model of the correction to the atomic charge superposition on the "
        "'train' split of a dataset, validating on 'val'. Writes the best checkpoint to -o, "
        "the last one to <name>.last.pt and metrics to <name>.metrics.csv.",
    )
    p.add_argument("data", help="dataset directory (written by `rhocat dft run`)")
    p.add_argument("-o", "--output", required=True, help="checkpoint to write (e.g. model.pt)")
    p.add_argument(
        "--model", choices=("basis", "radial", "pointwise"), default="basis",
        help="basis: equivariant atom-centred basis (default); radial: per-element floor; "
        "pointwise: the paper's probe model",
    )  # fmt: skip
    p.add_argument("--config", default="small", help="small, large or a JSON file [small]")
    p.add_argument("--steps", type=int, default=None, help="optimisation steps [from config]")
    p.add_argument(
        "--lr", type=float, default=None,
        help="initial learning rate, decaying to lr_final_factor × lr [from config]; lower "
        "it to fine-tune (--init-from)",
    )  # fmt: skip
    p.add_argument("--val-every", type=int, default=None, help="validate every N steps")
    p.add_argument(
        "--loss", choices=LOSSES, default=None,
        help="training loss [hartree for basis, l2_real for pointwise]",
    )  # fmt: skip
    p.add_argument(
        "--ensemble", type=int, default=None, metavar="K",
        help="train K basis models (seeds seed..seed+K-1; members written beside -o) and save "
        "their ensemble: mean prediction, per-structure uncertainty, shrinkage toward the ACS "
        "calibrated on 'val' [off]",
    )  # fmt: skip
    p.add_argument(
        "--init-from", default=None, metavar="CKPT",
        help="fine-tune: start from this trained model ('default': the shipped one); its "
        "model config, baseline and PAW occupations are kept, an ensemble is fine-tuned "
        "member by member [train from scratch]",
    )  # fmt: skip
    p.add_argument("--device", default="cpu", help="cpu or cuda [cpu]")
    p.add_argument("--resume", action="store_true", help="continue from <name>.last.pt")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rhocat.data.store import Dataset
    from rhocat.train import train_model

    if args.steps is not None and args.steps < 1:
        raise InputError("--steps must be positive")
    if args.lr is not None and not args.lr > 0:
        raise InputError("--lr must be positive")
    data = Dataset(args.data)
    init = _init_model(args)
    if args.ensemble is None and init is not None and init.kind == "ensemble":
        args.ensemble = len(init.members)  # fine-tune every member
    if args.ensemble is not None:
        return _run_ensemble(args, data, init)
    res = train_model(
        data,
        model=args.model,
        config=args.config,
        steps=args.steps,
        device=args.device,
        out=args.output,
        val_every=args.val_every,
        resume=args.resume,
        loss=args.loss,
        progress=not args.no_progress,
        init_from=init,
        lr=args.lr,
    )
    summary = {
        "model": args.model,
        "best": str(res.best_path),
        "last": str(res.last_path),
        "metrics_csv": str(res.metrics_path) if res.metrics_path else None,
        "train_s": round(res.train_s, 2),
        "val": res.val,
    }
    if args.model == "radial":  # the ridge strength it chose on 'val' (or the default)
        summary["ridge_lambda"] = res.model.config["ridge_lambda"]
    print(json.dumps(summary, indent=2))
    return 0


def _init_model(args: argparse.Namespace):
    """The model ``--init-from`` names (read once, its path recorded as the fine-tuning
    source), or None."""
    from rhocat.pretrained import DEFAULT_CHECKPOINT
    from rhocat.train import load_model
    from rhocat.train.loop import FINE_TUNE_SOURCE

    if args.init_from is None:
        return None
    path = str(DEFAULT_CHECKPOINT) if args.init_from == "default" else args.init_from
    model = load_model(path)
    model.metadata[FINE_TUNE_SOURCE] = path
    return model


def _run_ensemble(args: argparse.Namespace, data, init=None) -> int:
    from rhocat.train.ensemble import train_ensemble

    if args.model != "basis":
        raise InputError("--ensemble trains basis models; drop --model or use --model basis")
    if args.ensemble < 2:
        raise InputError(f"--ensemble needs at least 2 members, got {args.ensemble}")
    if args.resume:
        raise InputError("an ensemble resumes by itself: rerun the same command without --resume")
    ens, metrics = train_ensemble(
        data, n_members=args.ensemble, config=args.config, steps=args.steps, out=args.output,
        progress=not args.no_progress, device=args.device, val_every=args.val_every,
        loss=args.loss, init_from=init, lr=args.lr,
    )  # fmt: skip
    summary = {"model": "ensemble", "n_members": args.ensemble, "best": str(args.output)}
    print(json.dumps({**summary, **metrics}, indent=2, default=str))
    return 0
