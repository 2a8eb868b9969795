"""``rhocat dft run`` (build a density dataset) and ``rhocat data summary|check|pack``."""

from __future__ import annotations

import argparse
import json
import sys

from rhocat.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    dft = sub.add_parser("dft", help="compute the DFT density dataset")
    dsub = dft.add_subparsers(dest="dft_command", metavar="COMMAND")
    run = dsub.add_parser(
        "run",
        help="perturb, (vc-)relax and SCF every structure of a split file; store the densities",
        description="Compute converged densities for the structures of a split file and store "
        "them as a dataset (one HDF5 file per structure + an SQLite index). Re-running the "
        "same command resumes: finished structures are skipped.",
    )
    run.add_argument("split", help="split file written by `rhocat split`")
    run.add_argument("-o", "--output", required=True, help="dataset directory")
    run.add_argument(
        "--relax",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="vc-relax each structure before the SCF [default: no]",
    )
    run.add_argument("--protocol", default="fast", help="fast or moderate [default: fast]")
    run.add_argument(
        "--pseudos", default="debian-pbe", help="family name or UPF directory [default: debian-pbe]"
    )
    run.add_argument(
        "--storage",
        choices=("full", "compact"),
        default="full",
        help="entry files: full (float64 rho and ACS on the whole G list) or compact "
        "(float32 rho on half the G sphere; Miller list and ACS recomputed on load) [full]",
    )
    run.add_argument("--workers", type=int, default=1, help="structures computed at once [1]")
    run.add_argument("--ranks", type=int, default=1, help="MPI ranks of each pw.x run [1]")
    run.add_argument("--engine", choices=("local", "aiida"), default="local")
    run.add_argument(
        "--aiida-computer",
        default=None,
        help="AiiDA computer label (engine aiida; e.g. a SLURM cluster set up with verdi) "
        "[default: localhost]",
    )
    run.add_argument("--aiida-code", default=None, help="AiiDA code label [pw@<computer>]")
    run.add_argument("--only", default=None, help="comma-separated splits (e.g. train,val)")
    run.add_argument("--limit", type=int, default=None, help="first N structures only")
    run.add_argument(
        "--perturb",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="random displacement of each atom, standard deviation in Å [0]",
    )
    run.add_argument(
        "--strain", type=float, default=0.0, help="maximum random strain component [0]"
    )
    run.add_argument("--seed", type=int, default=0, help="seed of the perturbation [0]")
    run.add_argument("--ecutwfc", type=float, default=None, help="override ecutwfc (Ry)")
    run.add_argument(
        "--ecutrho", type=float, default=None, help="override ecutrho (Ry) [8 x --ecutwfc]"
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any pw.x parameter, e.g. --set electron_maxstep=50 --set k_points=4,4,4",
    )
    run.add_argument("--timeout", type=float, default=None, help="limit per pw.x run (s)")
    run.add_argument("--retry-failed", action="store_true", help="recompute failed entries")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--json", action="store_true", help="print the build report as JSON")
    run.set_defaults(func=cmd_dft_run)
    dft.set_defaults(func=lambda args: _help(dft))

    data = sub.add_parser("data", help="inspect a density dataset")
    sub2 = data.add_subparsers(dest="data_command", metavar="COMMAND")
    summary = sub2.add_parser(
        "summary",
        help="a table per split (structures, failures, medians) and the element and "
        "element-pair coverage",
    )
    summary.add_argument("dataset")
    summary.add_argument(
        "--min-train",
        type=int,
        default=10,
        metavar="N",
        help="a val/test structure is covered when each of its elements is in >= N train "
        "structures [10]",
    )
    summary.add_argument(
        "--json", action="store_true", help='print {"splits": [...], "coverage": {...}}'
    )
    summary.set_defaults(func=cmd_summary)
    check = sub2.add_parser(
        "check",
        help="verify every entry (checksums.sha256 and index checksums, shapes, electron "
        "count); exit 1 on problems",
    )
    check.add_argument("dataset")
    check.add_argument("--no-progress", action="store_true")
    check.set_defaults(func=cmd_check)
    pack = sub2.add_parser(
        "pack",
        help="convert a dataset to compact storage (same ids, checksums; each entry verified)",
        description="Write every entry of SRC into a new dataset DST whose entries hold rho(G) "
        "on half the G sphere as float32 (the Miller list and the ACS are recomputed on load). "
        "Each packed entry is loaded back and compared with its source.",
    )
    pack.add_argument("src", help="dataset to read")
    pack.add_argument("dst", help="new dataset directory (must not exist)")
    pack.add_argument("--storage", choices=("compact", "full"), default="compact")
    pack.add_argument("--no-progress", action="store_true")
    pack.set_defaults(func=cmd_pack)
    data.set_defaults(func=lambda args: _help(data))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _value(text: str):
    low = text.strip().lower()
    if low in (".true.", "true"):
        return True
    if low in (".false.", "false"):
        return False
    if "," in text:
        return [_value(t) for t in text.split(",")]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def overrides_from_args(args) -> dict:
    """pw.x overrides from --ecutwfc/--ecutrho/--set (flat keys, see rhocat.qe.inputs)."""
    from rhocat.qe.inputs import cutoff_overrides

    out: dict = cutoff_overrides(args.ecutwfc, args.ecutrho)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = _value(value)
    return out


def _family_key(pseudos: str) -> str:
    from pathlib import Path

    p = Path(pseudos).expanduser()
    return str(p.resolve()) if p.is_dir() else pseudos


def cmd_dft_run(args) -> int:
    from rhocat.data.build import BuildConfig, build_dataset, jobs_from_split, select_jobs
    from rhocat.data.engines import make_engine
    from rhocat.data.manifest import Manifest

    if args.ranks < 1:
        raise InputError("--ranks must be >= 1")
    if args.perturb < 0 or args.strain < 0:
        raise InputError("--perturb and --strain must be >= 0")
    manifest = Manifest(
        protocol=args.protocol,
        family=_family_key(args.pseudos),
        relax=args.relax,
        perturb_ang=args.perturb,
        strain=args.strain,
        seed=args.seed,
        overrides=overrides_from_args(args),
        storage=args.storage,
    )
    _validate_overrides(manifest)
    jobs = select_jobs(
        jobs_from_split(args.split),
        only=args.only.split(",") if args.only else None,
        limit=args.limit,
    )
    config = BuildConfig(manifest=manifest, ranks=args.ranks, timeout_s=args.timeout)
    options = {}
    if args.aiida_computer:
        options["computer"] = args.aiida_computer
    if args.aiida_code:
        options["code"] = args.aiida_code
    if options and args.engine != "aiida":
        raise InputError("--aiida-computer/--aiida-code need --engine aiida")
    engine = make_engine(args.engine, workers=args.workers, **options)
    report = build_dataset(
        jobs,
        args.output,
        config,
        engine=engine,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
    )
    if args.json:
        json.dump(vars(report), sys.stdout, indent=1)
        print()
    else:
        print(
            f"{report.requested} structures: {report.done} computed, {report.failed} failed, "
            f"{report.skipped} already in {args.output}; {report.wall_s:.1f} s"
        )
        for entry_id, reason in report.failures.items():
            print(f"  failed {entry_id}: {reason}")
    return 0


def _validate_overrides(manifest) -> None:
    """Unknown pw.x keys are a user error before any run starts."""
    if not manifest.overrides:
        return
    from rhocat.qe.inputs import apply_overrides

    apply_overrides({}, dict(manifest.overrides))


def cmd_summary(args) -> int:
    from rhocat.data.check import coverage, format_coverage, format_summary, summarize

    table = summarize(args.dataset)
    cov = coverage(args.dataset, min_train=args.min_train)
    if args.json:
        json.dump({"splits": table, "coverage": cov}, sys.stdout, indent=1)
        print()
    else:
        print(format_summary(table))
        print()
        print(format_coverage(cov))
    return 0


def cmd_check(args) -> int:
    from tqdm import tqdm

    from rhocat.data.check import check_dataset
    from rhocat.data.store import Dataset

    with Dataset(args.dataset) as ds:
        total = ds.count()
    with tqdm(total=total, unit="entry", disable=args.no_progress, desc="check") as bar:
        report = check_dataset(args.dataset, progress=bar.update)
    for note in report.notes:
        print(f"note: {note}")
    for entry_id, problems in report.problems.items():
        for problem in problems:
            print(f"CORRUPT {entry_id}: {problem}")
    print(
        f"{report.checked} entries checked: {report.ok} ok, {report.failed_runs} failed runs, "
        f"{len(report.problems)} with problems"
    )
    return 0 if report.clean else 1


def cmd_pack(args) -> int:
    from tqdm import tqdm

    from rhocat.data.pack import pack_dataset
    from rhocat.data.store import Dataset

    with Dataset(args.src) as ds:
        total = ds.count()
    with tqdm(total=total, unit="entry", disable=args.no_progress, desc="pack") as bar:
        report = pack_dataset(args.src, args.dst, storage=args.storage, progress=bar.update)
    print(
        f"{report.entries} entries packed into {args.dst} ({report.ok} ok, "
        f"{report.failed_runs} failed runs): entry files {report.bytes_before:,} B -> "
        f"{report.bytes_after:,} B"
    )
    return 0
