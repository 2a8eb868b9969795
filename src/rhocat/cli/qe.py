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

    a = sub.add_parser("acs", help="write the atomic charge superposition as a pw.x restart")
    a.add_argument("structure")
    a.add_argument("-o", "--output", required=True, help="folder to write (a .save-style dir)")
    a.add_argument("--protocol", default="fast")
    a.add_argument("--pseudos", default="debian-pbe")
    a.add_argument("--ecutwfc", type=float, default=None)
    a.set_defaults(func=cmd_acs)


def _overrides(args) -> dict | None:
    if args.ecutwfc is None:
        return None
    return {"system": {"ecutwfc": args.ecutwfc, "ecutrho": 8 * args.ecutwfc}}


def cmd_scf(args) -> int:
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
        print(f"{'iter':>4} {'total energy (Ry)':>20} {'scf accuracy (Ry)':>18}")
        for i, acc in enumerate(result.scf_accuracy_ry):
            e = result.energies_ry[i] if i < len(result.energies_ry) else float("nan")
            print(f"{i + 1:>4} {e:>20.8f} {acc:>18.3e}")
        status = "converged" if result.converged else f"NOT converged: {result.reason}"
        print(f"{status}; {result.iterations} iterations; {result.wall_s:.2f} s wall")
        if not result.converged and result.output_tail:
            print(result.output_tail, file=sys.stderr)
    return 0 if result.converged else 1


def cmd_acs(args) -> int:
    from rhocat.qe.inputs import pw_parameters
    from rhocat.qe.start import acs_restart
    from rhocat.structure_io import read_structure

    atoms = read_structure(args.structure)
    params = pw_parameters(atoms, args.pseudos, args.protocol, overrides=_overrides(args))
    path = acs_restart(atoms, args.pseudos, params["system"]["ecutrho"], args.output)
    print(path)
    return 0
