"""``rhocat evaluate MODEL DATA -o RESULTS/``: warm starts versus the ACS, per structure."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="rerun each structure's SCF from the ACS and from the prediction; s-AUC, "
        "iterations and wall clock saved",
        description="For each dataset structure, rerun pw.x with the exact parameters of its "
        "ground-truth run, once from the atomic charge superposition and once from the model's "
        "prediction, and record s-AUC, iterations saved, energy/band-gap differences, density "
        "errors and timings. Resumable: finished structures are skipped.",
    )
    p.add_argument("model", help="model checkpoint")
    p.add_argument("data", help="dataset folder (written by `rhocat dft run`)")
    p.add_argument(
        "--split",
        default="test_binary,test_ternary",
        help="comma-separated splits to evaluate (default test_binary,test_ternary; 'all')",
    )
    p.add_argument("--ids", help="comma-separated entry ids, instead of --split [default: none]")
    p.add_argument(
        "-o", "--output", required=True, help="results folder (resumable: rerun to continue)"
    )
    p.add_argument(
        "--workers", type=int, default=1, help="structures evaluated at once, >= 1 [default: 1]"
    )
    p.add_argument(
        "--ranks", type=int, default=1, help="MPI ranks of each pw.x run, >= 1 [default: 1]"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="wall-clock limit of each pw.x run in seconds, > 0 [default: none]",
    )
    p.add_argument(
        "--allow-unseen", action="store_true", help="evaluate elements the model never saw"
    )
    p.add_argument("--retry-failed", action="store_true", help="redo structures that failed")
    p.add_argument(
        "--pw-file-threshold",
        action="store_true",
        help="give the warm run pw.x's own first diagonalization threshold for a density "
        "read from file (1e-5, as a plain pw.x restart and the paper's evaluation) instead "
        "of the one the prediction asks for (the model card's; the shipped model's: 1e-2)",
    )
    p.add_argument("--keep-work", action="store_true", help="keep pw.x folders (debugging)")
    p.add_argument(
        "--engine",
        choices=("local", "aiida"),
        default="local",
        help="run the SCFs here (local) or as AiiDA PwBaseWorkChains (aiida) [default: local]",
    )
    p.add_argument(
        "--aiida-computer",
        default=None,
        help="AiiDA computer label [default: $RHOCAT_AIIDA_COMPUTER, else localhost]",
    )
    p.add_argument("--aiida-code", default=None, help="AiiDA code label [default: pw@<computer>]")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from rhocat.cli.predict import load_model_file
    from rhocat.errors import InputError
    from rhocat.evaluate.runner import evaluate
    from rhocat.evaluate.tables import to_markdown

    if args.workers < 1 or args.ranks < 1:
        raise InputError("--workers and --ranks must be at least 1")
    if args.engine != "aiida" and (args.aiida_computer or args.aiida_code):
        raise InputError("--aiida-computer/--aiida-code need --engine aiida")
    aiida = None
    if args.engine == "aiida":
        aiida = {"computer": args.aiida_computer, "code": args.aiida_code}
    model = load_model_file(args.model)
    splits = None if args.split.strip() == "all" else [s for s in args.split.split(",") if s]
    ids = [i for i in args.ids.split(",") if i] if args.ids else None
    summary = evaluate(
        model,
        args.data,
        args.output,
        model_path=args.model,
        splits=splits,
        ids=ids,
        workers=args.workers,
        ranks=args.ranks,
        timeout_s=args.timeout,
        allow_unseen=args.allow_unseen,
        retry_failed=args.retry_failed,
        keep_work=args.keep_work,
        pw_file_threshold=args.pw_file_threshold,
        engine=args.engine,
        aiida=aiida,
    )
    print(to_markdown(summary))
    print(f"results in {args.output} (rhocat report {args.output} -o report.html)")
    return 0
