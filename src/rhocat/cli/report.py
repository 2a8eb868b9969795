"""``rhocat report RESULTS/ -o report.html``: the self-contained HTML report."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="HTML report of an evaluation (tables 2-3, figures 2-6, wall clock)",
        description="Write a self-contained HTML report (figures embedded) of a results "
        "folder written by `rhocat evaluate`.",
    )
    p.add_argument("results", help="results folder of `rhocat evaluate`")
    p.add_argument(
        "-o", "--output", default="report.html", help="HTML file to write [default: report.html]"
    )
    p.add_argument("--title", default="", help="title of the report [default: none]")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from rhocat.evaluate.results import load_rows
    from rhocat.report.html import build_report

    build_report(args.results, args.output, args.title)
    rows = load_rows(args.results)
    n_ok = sum(1 for r in rows if r.get("status") == "ok")
    print(f"wrote {args.output} ({n_ok} of {len(rows)} structures evaluated)")
    return 0
