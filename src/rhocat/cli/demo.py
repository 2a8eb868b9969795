"""``rhocat demo``: the paper's experiment end to end at laptop scale."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="candidates → split → real DFT → training → warm-started SCF → report",
        description="Run the whole pipeline on a small element set into one folder. "
        "Re-running reuses finished DFT, the trained model and finished evaluations.",
    )
    p.add_argument("-o", "--output", default="demo", help="output folder [demo]")
    p.add_argument("--quick", action="store_true", help="fewer structures, smaller model")
    p.add_argument("--workers", type=int, default=None, help="DFT runs at once")
    p.add_argument("--ranks", type=int, default=None, help="MPI ranks per pw.x run")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from dataclasses import replace

    from rhocat.demo import QUICK, DemoConfig, run_demo

    cfg = QUICK if args.quick else DemoConfig()
    if args.workers:
        cfg = replace(cfg, workers=args.workers)
    if args.ranks:
        cfg = replace(cfg, ranks=args.ranks)
    run_demo(args.output, cfg)
    return 0
