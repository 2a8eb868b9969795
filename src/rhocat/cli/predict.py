"""``rhocat predict [MODEL] STRUCTURE... -o DIR``: restart folders for pw.x from a model.

One structure: ``DIR`` is the restart folder itself. Several structures (or a
folder of structure files): ``DIR/<name>/`` each, with the model loaded once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MODEL_SUFFIXES = (".pt", ".pth", ".ckpt", ".rhocat")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="write predicted start densities (charge-density.dat, paw.txt) for pw.x",
        description="Predict the charge density of structures and write restart folders that "
        "pw.x reads with startingpot='file'. MODEL may be left out to use the shipped "
        "pretrained model.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="[MODEL] STRUCTURE",
        help="model checkpoint (optional, first) then structure files or folders (any format "
        "ASE reads: CIF, POSCAR, extxyz, ...)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="restart folder, new or empty (several structures: their parent folder)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that is not empty, replacing charge-density.dat, paw.txt "
        "and prediction.json there [default: refuse]",
    )
    p.add_argument(
        "--protocol",
        default="fast",
        help="SCF protocol (fast or moderate) that fixes the cutoffs with the family "
        "[default: fast]",
    )
    p.add_argument(
        "--pseudos",
        default="debian-pbe",
        help="pseudopotential family: a name or a folder of UPF files [default: debian-pbe]",
    )
    p.add_argument(
        "--ecutwfc",
        type=float,
        help="wavefunction cutoff of the run to start, Ry, > 0 "
        "[default: the family's suggestion for these elements]",
    )
    p.add_argument(
        "--ecutrho",
        type=float,
        help="density cutoff of the run to start, Ry, >= 4 x ecutwfc "
        "[default: the family's, at least 4 x ecutwfc]",
    )
    p.add_argument(
        "--allow-close-atoms",
        action="store_true",
        help="accept atoms closer than half the sum of their covalent radii [default: refuse]",
    )
    p.add_argument(
        "--cube", help="also write the density as a Gaussian cube file (e/bohr³) [default: none]"
    )
    p.add_argument("--xsf", help="also write the density as an XSF file (e/Å³) [default: none]")
    p.add_argument(
        "--allow-unseen", action="store_true", help="predict for elements the model never saw"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_run)


def load_model_file(path: str | None):
    """Load a checkpoint; None: the shipped pretrained model (:func:`rhocat.train.load_model`)."""
    from rhocat.train import load_model

    return load_model(path)


def is_model_path(text: str) -> bool:
    """Whether a positional argument names a model checkpoint rather than a structure."""
    p = Path(text)
    return p.suffix.lower() in MODEL_SUFFIXES or (p.is_dir() and (p / "model.json").is_file())


def read_structures(paths: list[str]) -> list[tuple[str, object]]:
    """(name, Atoms) for each file, or each readable file in a folder (sorted)."""

    from rhocat.errors import InputError

    files: list[Path] = []
    for text in paths:
        p = Path(text)
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith("."))
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"{p}: no such structure file or folder")
    from rhocat.structure_io import read_structure

    out = [(f.stem, read_structure(f)) for f in files]
    if not out:
        raise InputError("no structure given")
    return out


def _run(args: argparse.Namespace) -> int:
    from rhocat.predict import predict_many, predict_restart
    from rhocat.qe.inputs import cutoff_overrides
    from rhocat.structure_checks import MIN_DISTANCE_RATIO

    inputs = list(args.inputs)
    model_path = inputs.pop(0) if is_model_path(inputs[0]) else None
    structures = read_structures(inputs)
    model = load_model_file(model_path)
    overrides = cutoff_overrides(args.ecutwfc, args.ecutrho)
    common = dict(
        family=args.pseudos,
        protocol=args.protocol,
        allow_unseen=args.allow_unseen,
        overrides=overrides or None,
        min_distance_ratio=0.0 if args.allow_close_atoms else MIN_DISTANCE_RATIO,
        overwrite=args.force,
    )
    if len(structures) == 1:
        from rhocat import interrupts

        name, atoms = structures[0]
        with interrupts.one_step():  # once the folder is in place, an interrupt is ignored
            result = predict_restart(
                model,
                atoms,
                out_dir=args.output,
                cube=args.cube,
                xsf=args.xsf,
                name=name,
                progress=True,
                **common,
            )
        results = [result]
    else:
        if args.cube or args.xsf:
            print(
                "rhocat: note: with several structures, exports go to OUTPUT/<name>.cube/.xsf",
                file=sys.stderr,
            )
        results = predict_many(
            model,
            structures,
            args.output,
            cube=bool(args.cube),
            xsf=bool(args.xsf),
            progress=True,
            **common,
        )
        from rhocat import interrupts

        with interrupts.one_step():  # every folder is written: an interrupt is ignored now
            interrupts.complete()
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    else:
        for r in results:
            neg = f", {100 * r.negative_fraction:.2f}% of grid points negative before clipping"
            print(
                f"{r.name}: {r.restart_dir} ({r.n_electrons:g} electrons, "
                f"{r.ngm} G vectors, inference {r.inference_s:.2f} s"
                f"{neg if r.negative_fraction else ''}; PAW occupations: {r.becsum_source})"
            )
            if r.uncertainty is not None:
                print(f"  {uncertainty_line(r.uncertainty, r.shrink)}")
            if r.requirements:
                from rhocat.predict.pwinput import requirement_lines

                for line in requirement_lines(r.requirements, r.restart_dir):
                    print(f"  {line}")
    return 0


def uncertainty_line(uncertainty: float, shrink: float) -> str:
    """One line on the ensemble's confidence and what the warm start did with it."""
    if shrink >= 0.9:
        what = "the correction to the ACS is used nearly in full"
    elif shrink >= 0.1:
        what = "the correction to the ACS is scaled down accordingly"
    else:
        what = "this structure is unlike the training data: the start is essentially the ACS"
    return f"ensemble uncertainty {uncertainty:.2f}: correction x {shrink:.2f} ({what})"
