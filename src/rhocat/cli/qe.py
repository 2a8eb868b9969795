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
    p.add_argument("--pseudos", default="debian-pbe", help="family name or UPF directory")
    p.add_argument("--ranks", type=int, default=None, help="MPI ranks for pw.x")
    p.add_argument("--ecutwfc", type=float, default=None, help="override ecutwfc (Ry)")
    p.add_argument("--workdir", default=None, help="run folder (kept) [default: a temp folder]")
    p.add_argument("--timeout", type=float, default=None, help="wall-clock limit (s)")
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
    from rhocat.qe.scf import run_scf
    from rhocat.structure_io import read_structure

    atoms = read_structure(args.structure)
    result = run_scf(
        atoms,
        family=args.pseudos,
        protocol=args.protocol,
        start=args.start,
        workdir=args.workdir,
        ranks=args.ranks,
        timeout_s=args.timeout,
        overrides=_overrides(args),
    )
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
