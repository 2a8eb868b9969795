"""``rhocat scf`` and ``rhocat acs``: one pw.x run, and the ACS restart folder."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scf", help="run pw.x on a structure and print its SCF history")
    p.add_argument("structure", help="structure file (anything ASE reads: CIF, POSCAR, extxyz)")
    p.add_argument(
        "--start",
        default="atomic",
        help="atomic (pw.x's ACS), acs (rhocat's ACS via a restart file) or a folder "
        "holding charge-density.dat [default: atomic]",
    )
    p.add_argument("--protocol", default="fast", help="fast or moderate [default: fast]")
    p.add_argument(
        "--pseudos",
        default="debian-pbe",
        help="pseudopotential family: a name or a folder of UPF files [default: debian-pbe]",
    )
    p.add_argument(
        "--ranks",
        type=int,
        default=None,
        help="MPI ranks for pw.x, >= 1 [default: $RHOCAT_RANKS, else the cores, at most 4]",
    )
    p.add_argument(
        "--ecutwfc",
        type=float,
        default=None,
        help="wavefunction cutoff in Ry, > 0; ecutrho becomes 8 x ecutwfc "
        "[default: the family's suggestion for these elements]",
    )
    p.add_argument(
        "--workdir",
        default=None,
        help="run folder, kept [default: a temporary folder, removed at the end]",
    )
    p.add_argument(
        "--keep-workdir",
        action="store_true",
        help="keep the temporary run folder (pw.in, pw.out, the .save folder) and print its path",
    )
    t = p.add_mutually_exclusive_group()
    t.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="wall-clock limit in seconds, > 0 [default: 600 + 60 x atoms^1.5, "
        "e.g. 770 s for 2 atoms]",
    )
    t.add_argument("--no-timeout", action="store_true", help="let pw.x run without a limit")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_scf)

    p.add_argument(
        "--allow-close-atoms",
        action="store_true",
        help="run atoms closer than half the sum of their covalent radii [default: refuse]",
    )

    a = sub.add_parser(
        "acs",
        help="write the atomic charge superposition as a pw.x restart",
        description="Write pw.x's atomic start (the ACS), computed in Python, as "
        "charge-density.dat (+ paw.txt for PAW species) that pw.x reads with "
        "startingpot='file'.",
    )
    a.add_argument("structure", help="structure file (anything ASE reads: CIF, POSCAR, extxyz)")
    a.add_argument(
        "-o",
        "--output",
        required=True,
        help="folder to write (new or empty; a .save-style folder)",
    )
    a.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that is not empty, replacing charge-density.dat and "
        "paw.txt there [default: refuse]",
    )
    a.add_argument(
        "--protocol",
        default="fast",
        help="fast or moderate: fixes the cutoffs with the family [default: fast]",
    )
    a.add_argument(
        "--pseudos",
        default="debian-pbe",
        help="pseudopotential family: a name or a folder of UPF files [default: debian-pbe]",
    )
    a.add_argument(
        "--ecutwfc",
        type=float,
        default=None,
        help="wavefunction cutoff in Ry, > 0; ecutrho becomes 8 x ecutwfc "
        "[default: the family's suggestion]",
    )
    a.add_argument(
        "--allow-close-atoms",
        action="store_true",
        help="accept atoms closer than half the sum of their covalent radii [default: refuse]",
    )
    a.set_defaults(func=cmd_acs)


def _min_distance_ratio(args) -> float:
    from rhocat.structure_checks import MIN_DISTANCE_RATIO

    return 0.0 if args.allow_close_atoms else MIN_DISTANCE_RATIO


def _overrides(args) -> dict | None:
    from rhocat.qe.inputs import cutoff_overrides

    return cutoff_overrides(args.ecutwfc) or None


def _live_table():
    """A callback for run_scf's ``on_line`` printing one row per SCF iteration as pw.x
    writes it: iteration, total energy (Ry), estimated accuracy (Ry), seconds since start."""
    import time

    from rhocat.qe.parse import LiveHistory

    history = LiveHistory()
    t0 = time.perf_counter()
    print(f"{'iter':>4} {'total energy (Ry)':>20} {'scf accuracy (Ry)':>18} {'time (s)':>9}")
    sys.stdout.flush()

    def on_line(line: str) -> None:
        row = history.feed(line)
        if row is not None:
            i, energy, accuracy = row
            print(f"{i:>4} {energy:>20.8f} {accuracy:>18.3e} {time.perf_counter() - t0:>9.1f}")
            sys.stdout.flush()

    return on_line


def cmd_scf(args) -> int:
    """One pw.x run: once pw.x has exited by itself an interrupt no longer changes the
    outcome (:mod:`rhocat.interrupts`); the result is printed and the exit code is its own."""
    from rhocat import interrupts

    with interrupts.one_step():
        return _scf(args)


def _scf(args) -> int:
    import shutil
    import tempfile

    from rhocat.qe.scf import check_run_options, default_timeout_s, run_scf
    from rhocat.structure_io import read_structure

    check_run_options(args.ranks, args.timeout)
    atoms = read_structure(args.structure)
    timeout = None if args.no_timeout else args.timeout or default_timeout_s(len(atoms))
    workdir = args.workdir
    temporary = workdir is None
    if temporary:
        workdir = tempfile.mkdtemp(prefix="rhocat-pw-")
    on_line = None
    if not args.json:
        on_line = _live_table()
    try:
        result = run_scf(
            atoms,
            family=args.pseudos,
            protocol=args.protocol,
            start=args.start,
            workdir=workdir,
            ranks=args.ranks,
            timeout_s=timeout,
            overrides=_overrides(args),
            min_distance_ratio=_min_distance_ratio(args),
            on_line=on_line,
        )
    finally:
        if temporary and not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if temporary and not args.keep_workdir:
        result.save_dir = None  # removed with the run folder
    elif temporary:
        print(f"rhocat: run folder kept: {workdir}", file=sys.stderr)
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=1)
        print()
    else:
        status = "converged" if result.converged else f"NOT converged: {result.reason}"
        limit = "no time limit" if result.timeout_s is None else f"limit {result.timeout_s:g} s"
        print(f"{status}; {result.iterations} iterations; {result.wall_s:.2f} s wall ({limit})")
        if not result.converged and result.output_tail:
            print(result.output_tail, file=sys.stderr)
    return 0 if result.converged else 1


def cmd_acs(args) -> int:
    from rhocat.qe.inputs import pw_parameters
    from rhocat.qe.start import acs_restart
    from rhocat.structure_checks import check_distances
    from rhocat.structure_io import read_structure

    atoms = read_structure(args.structure)
    check_distances(atoms, _min_distance_ratio(args))
    params = pw_parameters(atoms, args.pseudos, args.protocol, overrides=_overrides(args))
    ecutrho = params["system"]["ecutrho"]
    path = acs_restart(
        atoms, args.pseudos, ecutrho, args.output, progress=True, overwrite=args.force
    )
    print(path)
    return 0
