"""``rhocat structures generate|import|mp|prototypes``: build a candidate directory."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from rhocat.errors import InputError


def _limit(value: str) -> float | None:
    return None if value.lower() in ("none", "0", "off") else float(value)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("structures", help="candidate bulk structures (generate, import)")
    sub = p.add_subparsers(dest="structures_command", metavar="ACTION")

    def filters(q: argparse.ArgumentParser) -> None:
        q.add_argument("--max-atoms", type=int, default=12, help="atoms per cell (default 12)")
        q.add_argument(
            "--max-volume",
            type=_limit,
            default=200.0,
            help="conventional-cell volume limit in Å^3 (default 200; 'none' for no limit)",
        )
        q.add_argument(
            "--min-distance-ratio",
            type=float,
            default=0.85,
            help="reject atoms closer than this fraction of the sum of radii (default 0.85)",
        )
        q.add_argument("-o", "--output", required=True, help="output directory")

    g = sub.add_parser("generate", help="candidates from prototypes for a set of elements")
    g.add_argument("--elements", required=True, help="comma-separated symbols, e.g. Cu,Ni,Ga,As")
    g.add_argument("--prototypes", default=None, help="comma-separated prototypes (default all)")
    g.add_argument(
        "--no-rules", action="store_true", help="try every prototype with every element assignment"
    )
    g.add_argument(
        "--max-per-system", type=int, default=None, help="candidates per element combination"
    )
    filters(g)
    g.set_defaults(func=_generate)

    i = sub.add_parser("import", help="candidates from structure files (CIF, POSCAR, extxyz, db)")
    i.add_argument("files", nargs="+", help="structure files")
    filters(i)
    i.set_defaults(func=_import)

    m = sub.add_parser(
        "mp", help="candidates from the Materials Project (needs mp-api, MP_API_KEY)"
    )
    m.add_argument("--elements", required=True, help="comma-separated symbols")
    m.add_argument("--max-e-above-hull", type=float, default=0.1, help="eV/atom (default 0.1)")
    filters(m)
    m.set_defaults(func=_mp)

    lp = sub.add_parser("prototypes", help="list the prototypes")
    lp.set_defaults(func=_list)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _split_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.replace(" ", ",").split(",") if t.strip()]


def _max_volume(args: argparse.Namespace) -> float | None:
    return None if args.max_volume in (None, 0) else args.max_volume


def _generate(args: argparse.Namespace) -> int:
    from rhocat.structures import enumerate_candidates, write_candidates

    elements = _split_list(args.elements) or []
    prototypes = _split_list(args.prototypes)
    if prototypes is not None and not prototypes:
        raise InputError("--prototypes is empty")
    gen = enumerate_candidates(
        elements,
        prototypes=prototypes,
        max_atoms=args.max_atoms,
        max_volume=_max_volume(args),
        min_distance_ratio=args.min_distance_ratio,
        rules=not args.no_rules,
        max_per_system=args.max_per_system,
    )
    if not gen.candidates:
        raise InputError(
            f"no candidate passed the rules and filters for {','.join(elements)} "
            f"({len(gen.rejected)} rejected); try --no-rules or looser limits"
        )
    index = write_candidates(gen.candidates, args.output, gen.parameters, gen.rejected)
    by_n = Counter(c.n_elements for c in gen.candidates)
    print(
        f"{len(gen.candidates)} candidates ({by_n[1]} unary, {by_n[2]} binary, {by_n[3]} ternary) "
        f"-> {index}"
    )
    for proto, n in Counter(c.prototype for c in gen.candidates).items():
        print(f"  {proto:14} {n}")
    if gen.rejected:
        kinds = Counter(_kind(r["reason"]) for r in gen.rejected)
        detail = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
        print(f"rejected {len(gen.rejected)} cells ({detail}); listed in {index.name}")
    return 0


def _kind(reason: str) -> str:
    for key, label in (
        ("max_atoms", "too many atoms"),
        ("max_volume", "too large"),
        ("too close", "atoms too close"),
        ("max_per_system", "over max-per-system"),
    ):
        if key in reason:
            return label
    return "other"


def _report(problems: list[tuple[str, str]]) -> None:
    for where, message in problems:
        print(f"rhocat: skipped {where}: {message}", file=sys.stderr)


def _import(args: argparse.Namespace) -> int:
    from rhocat.structures import import_structures, write_candidates

    cands, problems = import_structures(
        args.files, args.max_atoms, _max_volume(args), args.min_distance_ratio
    )
    _report(problems)
    if not cands:
        raise InputError(f"none of the {len(args.files)} file(s) gave a usable structure")
    rejected = [{"id": w, "prototype": "", "reason": m} for w, m in problems]
    index = write_candidates(cands, args.output, {"imported": list(args.files)}, rejected)
    print(f"{len(cands)} candidates imported, {len(problems)} skipped -> {index}")
    return 0


def _mp(args: argparse.Namespace) -> int:
    from rhocat.structures import fetch_materials_project, write_candidates

    cands, problems = fetch_materials_project(
        _split_list(args.elements) or [],
        max_e_above_hull=args.max_e_above_hull,
        max_atoms=args.max_atoms,
        max_volume=_max_volume(args),
        min_distance_ratio=args.min_distance_ratio,
    )
    _report(problems)
    if not cands:
        raise InputError("the Materials Project returned no usable structure")
    rejected = [{"id": w, "prototype": "", "reason": m} for w, m in problems]
    index = write_candidates(cands, args.output, {"materials_project": args.elements}, rejected)
    print(f"{len(cands)} candidates from the Materials Project -> {index}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from rhocat.structures import PROTOTYPES

    for p in PROTOTYPES.values():
        print(f"{p.name:14} {'-'.join(p.roles):6} {p.n_atoms} atoms  {p.kind:10} {p.description}")
    return 0
