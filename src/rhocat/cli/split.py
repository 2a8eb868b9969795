"""``rhocat split DIR -o split.json``: the combinatorial split, with its summary table."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "split", help="split candidates by element combination (train/val/test)"
    )
    p.add_argument("candidates", help="candidate directory (from 'rhocat structures ...')")
    p.add_argument("-o", "--output", required=True, help="split JSON file to write")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--val", type=int, default=2, help="binary combinations for validation")
    p.add_argument(
        "--test-binary-frac",
        type=float,
        default=0.5,
        help="share of the remaining binary combinations for test_binary (default 0.5)",
    )
    p.add_argument("--test-binary", type=int, default=None, help="count instead of the share")
    p.add_argument(
        "--train-binary",
        type=int,
        default=None,
        help="at most this many extra binary combinations in train (beyond coverage)",
    )
    p.add_argument(
        "--test-ternary", type=int, default=None, help="sample this many ternary combinations"
    )
    p.add_argument(
        "--holdout", default="", help="combinations forced into test, e.g. Ga-As,Cu-Ni-Ga"
    )
    p.add_argument("--no-ternary", action="store_true", help="allow a split without ternaries")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from rhocat.split import make_split, summary_table, write_split
    from rhocat.structures import read_candidates

    candidates = read_candidates(args.candidates)
    holdout = [h for h in args.holdout.split(",") if h.strip()]
    split = make_split(
        candidates,
        seed=args.seed,
        n_val=args.val,
        test_binary_frac=args.test_binary_frac,
        n_test_binary=args.test_binary,
        n_train_binary=args.train_binary,
        n_test_ternary=args.test_ternary,
        holdout=holdout,
        require_ternary=not args.no_ternary,
    )
    path = write_split(split, args.output)
    print(summary_table(split))
    for w in split.warnings:
        print(f"rhocat: warning: {w}", file=sys.stderr)
    print(f"-> {path}")
    return 0
