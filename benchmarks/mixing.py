"""Does pw.x's charge mixing tame the chaos of Cr/Fe cells, for the ACS and the warm start?

On Cr and Fe cells one SCF run's iteration count moves by several iterations under a change
of the start far below any model's error (docs/scf-starts.md §3), for the ACS as for a warm
start. Mixing does not change the converged density, only the path to it. For each mixing
setting and structure, pw.x runs from

- the ACS (rhocat's: noise-free atomic PAW occupations), and
- rhocat's warm start (``predict_restart``: density and predicted occupations),

each as is and scaled by 1 + ε on every G ≠ 0 (ε = ±1e-3; the charge, G = 0, unchanged),
all at the first diagonalization threshold 1e-2 and ``startingwfc = 'atomic'`` (the shipped
model's card), with the ground-truth run's other parameters. A setting is NAME=MODE:BETA
(pw.x's ``mixing_mode`` and ``mixing_beta``). Writes JSON: iterations per setting,
structure, start and ε, and per setting a summary (:func:`summarize`). Resumable: runs
already in the output file are not made again.

    python benchmarks/mixing.py src/rhocat/pretrained/default.pt --ids WC-CrN,CsCl-CrB \
        [--setting protocol=plain:0.4 --setting tf=local-TF:0.4] -o results_mixing.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from first_threshold import add_run_arguments, predicted_start  # noqa: E402
from scf_repeats import scaled_density  # noqa: E402

EPSILONS = (-1e-3, 0.0, 1e-3)
DEFAULT_SETTINGS = ("protocol=plain:0.4", "local-TF=local-TF:0.4", "beta0.2=plain:0.2")
MIXING_MODES = ("plain", "TF", "local-TF")
STARTS = ("acs", "warm")


def parse_setting(text: str) -> tuple[str, dict]:
    """'tf=local-TF:0.4' -> ('tf', {'mixing_mode': 'local-TF', 'mixing_beta': 0.4})."""
    name, sep, spec = text.partition("=")
    mode, sep2, beta = spec.partition(":")
    if not (sep and sep2 and name) or mode not in MIXING_MODES:
        raise ValueError(f"{text!r} is not NAME=MODE:BETA with MODE in {MIXING_MODES}")
    try:
        value = float(beta)
    except ValueError:
        raise ValueError(f"{text!r}: mixing_beta {beta!r} is not a number") from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{text!r}: mixing_beta must lie in (0, 1]")
    return name, {"mixing_mode": mode, "mixing_beta": value}


def start_folders(model, sample, family, work: Path) -> dict:
    """Restart folders per (start, ε): the ACS and the warm start, each scaled by 1 + ε."""
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.save import copy_restart
    from rhocat.qe.start import acs_like

    atoms, _, warm = predicted_start(model, sample, family, work / "pred")
    density = read_charge_density(warm / "charge-density.dat")
    acs = acs_like(density, atoms, family)
    becsum = atomic_becsum(atoms, family)  # None without PAW species
    folders = {}
    for start, base in (("acs", acs), ("warm", density)):
        for eps in EPSILONS:
            occupations = becsum if start == "acs" else None
            folders[(start, eps)] = copy_restart(
                warm, work / f"{start}{eps:+g}", scaled_density(base, eps), occupations
            )
    return folders


def run_cell(model, sample, family, work: Path, mixing: dict, done: dict, ranks: int) -> dict:
    """{start: {str(ε): iterations or None}} under ``mixing``, runs in ``done`` kept."""
    from rhocat.evaluate.runner import sample_atoms
    from rhocat.qe.scf import ATOMIC_DIAGO_THR_INIT, run_scf

    out = {s: dict(done.get(s, {})) for s in STARTS}
    if all(str(e) in out[s] for s in STARTS for e in EPSILONS):
        return out
    atoms = sample_atoms(sample)
    electrons = {"diago_thr_init": ATOMIC_DIAGO_THR_INIT, "startingwfc": "atomic", **mixing}
    over = {"electrons": electrons}
    for (start, eps), folder in start_folders(model, sample, family, work).items():
        if str(eps) in out[start]:
            continue
        res = run_scf(atoms, family=family, start=folder, parameters=sample.meta["parameters"],
                      overrides=over, workdir=work / f"run-{folder.name}", ranks=ranks)  # fmt: skip
        out[start][str(eps)] = res.iterations if res.converged else None
        print(sample.id, mixing, start, eps, out[start][str(eps)], file=sys.stderr, flush=True)
    return out


def summarize(rows: dict) -> dict:
    """Per setting, over the cells with every run converged: the sums of the mean
    iterations (ACS, warm), the mean per-cell range (max − min over the ε) of each start,
    the warm start's mean saving per cell (%, of the ACS mean) and its slower cells."""
    cells = [r for r in rows.values() if all(v is not None for s in STARTS for v in r[s].values())]
    if not cells:
        return {"cells": 0}
    mean = {s: np.array([np.mean(list(r[s].values())) for r in cells]) for s in STARTS}
    spread = {s: np.array([np.ptp(list(r[s].values())) for r in cells]) for s in STARTS}
    return {
        "cells": len(cells),
        "not_converged": len(rows) - len(cells),
        "acs_iterations": round(float(mean["acs"].sum()), 1),
        "warm_iterations": round(float(mean["warm"].sum()), 1),
        "acs_range_mean": round(float(spread["acs"].mean()), 2),
        "warm_range_mean": round(float(spread["warm"].mean()), 2),
        "acs_range_max": int(spread["acs"].max()),
        "warm_range_max": int(spread["warm"].max()),
        "saved_per_cell_pct": round(float(np.mean(1 - mean["warm"] / mean["acs"]) * 100), 1),
        "slower_cells": int(np.sum(mean["warm"] > mean["acs"])),
    }


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_run_arguments(ap, "comma-separated dataset entry ids")
    ap.add_argument("--setting", action="append", help="NAME=MODE:BETA (repeatable)")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    try:
        settings = dict(parse_setting(s) for s in args.setting or DEFAULT_SETTINGS)
    except ValueError as exc:
        ap.error(str(exc))
    out_path = Path(args.output)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {"settings": {}}
    result["model"] = args.model
    ds = Dataset(args.data)
    model = load_model(args.model)
    family = load_family(ds.manifest.family)
    for name, mixing in settings.items():
        entry = result["settings"].setdefault(name, {"mixing": mixing, "rows": {}})
        if entry["mixing"] != mixing:
            ap.error(f"{out_path}: setting {name!r} holds runs with {entry['mixing']}")
    for i in args.ids.split(","):  # every setting per cell: a cut-short run stays paired
        for name, mixing in settings.items():
            entry = result["settings"][name]
            with tempfile.TemporaryDirectory(prefix="rhocat-mix-") as tmp:
                entry["rows"][i] = run_cell(model, ds.load(i), family, Path(tmp), mixing,
                                            entry["rows"].get(i, {}), args.ranks)  # fmt: skip
            entry["summary"] = summarize(entry["rows"])
            out_path.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v["summary"] for k, v in result["settings"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
