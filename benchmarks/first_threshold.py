"""Which first diagonalization threshold should a warm start use?

pw.x starts a density read from file with ``diago_thr_init`` = 1e-5 but its own atomic
start with 1e-2. For each structure, rhocat's warm start (``predict_restart``: density and,
for PAW species, occupations) is run with pw.x's file default and with each threshold
given; the ACS iterations are the dataset entry's own ground-truth run (pw.x from its
atomic start, same parameters: iteration counts are deterministic for one binary and one
MPI layout). Prints JSON: iterations per threshold and structure, and a summary. Resumable: a
structure's thresholds already in the output file are not run again.

    python benchmarks/first_threshold.py MODEL --ids L10-CuAg,CsCl-GaNi \
        [--thresholds file,0.01] [-o benchmarks/results_first_threshold.json]

``--ids paper`` takes the SCF subset of ``benchmarks/results_paper.json``. ``--startingwfc
atomic`` runs the warm starts with pw.x's ``startingwfc = 'atomic'`` (initial
wavefunctions without the random part), ``--startingwfc atomic+random`` with pw.x's own;
without it they take the prediction's (the model card's: the shipped model's is 'atomic'
since docs/scf-starts.md §4; before, pw.x's own). An output file holds runs of one setting
only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def threshold_value(label: str) -> float:
    """pw.x's ``diago_thr_init`` for a threshold label: ``"file"`` is pw.x's own 1e-5 for a
    density read from file, anything else a number (always passed explicitly)."""
    from rhocat.qe.scf import FILE_DIAGO_THR_INIT

    return FILE_DIAGO_THR_INIT if label == "file" else float(label)


def warm_overrides(threshold: str, startingwfc: str | None = None) -> dict:
    """pw.x overrides of a warm start: its first threshold, and ``startingwfc`` if given."""
    electrons = {"diago_thr_init": threshold_value(threshold)}
    if startingwfc is not None:
        electrons["startingwfc"] = startingwfc
    return {"electrons": electrons}


def check_setting(result: dict, key: str, value, path) -> str | None:
    """Why ``result`` (a resumed output file) cannot take runs with ``key`` = ``value``."""
    if result.get("rows") and result.get(key) != value:
        return f"{path} holds runs with {key} = {result.get(key)!r}, not {value!r}"
    return None


def refuse_other_settings(ap: argparse.ArgumentParser, result: dict, settings: dict, path):
    """Stop with ``ap.error`` when the resumed output ``result`` holds runs made with another
    value of any of ``settings`` (key -> value of this call), by :func:`check_setting`."""
    for key, value in settings.items():
        refused = check_setting(result, key, value, path)
        if refused:
            ap.error(refused)


def predicted_start(model, sample, family, out_dir: Path):
    """rhocat's warm start for a dataset entry, at its ground-truth run's ``ecutrho`` (Ry):
    (atoms, the run's pw.x parameters, the restart folder)."""
    from rhocat.evaluate.runner import sample_atoms
    from rhocat.predict import predict_restart

    atoms = sample_atoms(sample)
    params = sample.meta["parameters"]
    ecutrho = float(params["system"]["ecutrho"])
    pred = predict_restart(model, atoms, family=family, out_dir=out_dir,
                           ecutrho_ry=ecutrho, name=sample.id)  # fmt: skip
    return atoms, params, Path(pred.restart_dir)


def warm_iterations(
    model, sample, family, work: Path, thresholds, ranks: int, done: dict | None = None,
    startingwfc: str | None = None,
) -> dict:  # fmt: skip
    """Iterations from the prediction per threshold (``done``: thresholds measured before;
    ``startingwfc``: pw.x's, when not its default)."""
    from rhocat.qe.scf import run_scf

    done = dict(done or {})
    atoms, params, start = predicted_start(model, sample, family, work / "pred")
    out = {"acs": int(sample.meta["iterations"])}
    for thr in [t for t in thresholds if t not in done]:
        over = warm_overrides(thr, startingwfc)
        res = run_scf(atoms, family=family, start=start, parameters=params,
                      overrides=over, workdir=work / f"warm-{thr}", ranks=ranks)  # fmt: skip
        out[thr] = res.iterations if res.converged else None
        print(sample.id, thr, out[thr], "acs", out["acs"], file=sys.stderr, flush=True)
    return {**done, **out}


def summary(rows: dict, thresholds) -> dict:
    out = {}
    for thr in thresholds:
        pairs = [(r["acs"], r[thr]) for r in rows.values() if r.get(thr)]
        saved = [100.0 * (a - w) / a for a, w in pairs]
        out[thr] = {
            "n": len(pairs),
            "iterations_saved_percent_mean": float(np.mean(saved)) if saved else None,
            "iterations_saved_percent_median": float(np.median(saved)) if saved else None,
            "slower_than_acs": sum(w > a for a, w in pairs),
            "slower_ids": [i for i, r in rows.items() if r.get(thr) and r[thr] > r["acs"]],
        }
    return out


def add_cell_arguments(ap: argparse.ArgumentParser, ids_help: str) -> None:
    """The arguments of a benchmark that runs pw.x on dataset entries: ``--ids``,
    ``--data`` (the benchmark dataset by default) and ``--ranks``."""
    ap.add_argument("--ids", required=True, help=ids_help)
    ap.add_argument("--data", default=str(HERE / "dataset" / "dataset"))
    ap.add_argument("--ranks", type=int, default=1)


def add_occupations_argument(ap: argparse.ArgumentParser) -> None:
    """``--occupations``: whose PAW occupations the warm starts carry (default: the card's)."""
    from rhocat.predict.core import OCCUPATIONS_VALUES

    ap.add_argument("--occupations", choices=OCCUPATIONS_VALUES,
                    help="PAW occupations of the warm starts (default: the card's)")  # fmt: skip


def with_occupations(model, occupations: str | None):
    """``model`` with its card's warm-start occupations set to ``occupations``, the way a
    shipped card would say it: a shallow copy (same weights, its own card), so the caller's
    model keeps its card; None: ``model`` itself."""
    import copy

    from rhocat.predict.core import OCCUPATIONS_KEY

    if occupations is None:
        return model
    out = copy.copy(model)
    out.metadata = {**(model.metadata or {}), OCCUPATIONS_KEY: occupations}
    return out


def add_run_arguments(ap: argparse.ArgumentParser, ids_help: str) -> None:
    """The arguments of a benchmark that runs pw.x from a model's starts on dataset entries:
    the model and :func:`add_cell_arguments`."""
    ap.add_argument("model")
    add_cell_arguments(ap, ids_help)


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.scf import STARTINGWFC_VALUES
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_run_arguments(ap, "comma-separated entry ids, or 'paper'")
    ap.add_argument("--thresholds", default="file,0.01", help="'file' (pw.x's 1e-5) or numbers")
    ap.add_argument("--startingwfc", choices=STARTINGWFC_VALUES,
                    help="pw.x's startingwfc of the warm starts (default: the card's)")  # fmt: skip
    add_occupations_argument(ap)
    ap.add_argument("-o", "--output", default=str(HERE / "results_first_threshold.json"))
    args = ap.parse_args(argv)
    ids = args.ids.split(",")
    if args.ids == "paper":
        ids = json.loads((HERE / "results_paper.json").read_text())["scf_subset"]
    thresholds = args.thresholds.split(",")
    out_path = Path(args.output)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {"rows": {}}
    settings = {"startingwfc": args.startingwfc, "occupations": args.occupations}
    refuse_other_settings(ap, result, settings, out_path)
    thresholds = list(dict.fromkeys([*result.get("thresholds", []), *thresholds]))
    result.update(model=args.model, thresholds=thresholds, startingwfc=args.startingwfc)
    if args.occupations:
        result["occupations"] = args.occupations
    ds = Dataset(args.data)
    model = with_occupations(load_model(args.model), args.occupations)
    family = load_family(ds.manifest.family)
    for i in ids:
        done = result["rows"].get(i, {})
        if all(t in done for t in thresholds):
            continue
        with tempfile.TemporaryDirectory(prefix="rhocat-thr-") as tmp:
            result["rows"][i] = warm_iterations(
                model, ds.load(i), family, Path(tmp), thresholds, args.ranks, done,
                startingwfc=args.startingwfc,
            )  # fmt: skip
        result["summary"] = summary(result["rows"], thresholds)
        out_path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result.get("summary", {}), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
