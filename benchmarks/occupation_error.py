"""How far the occupation model's PAW occupations lie from the converged ones, per group.

For every converged structure of the dataset's ``val`` split (and, reported only, its
``test*`` splits; or the structures of ``--ids``) that holds PAW atoms and stored converged
occupations: the squared Frobenius distance of the model's occupations
(``rhocat.models.predict_becsum``, unshrunk) and of the atomic ones (``PAW_atomic_becsum``
without noise) from the converged occupations of the dataset's reference run, summed over
the PAW atoms of each element. Per group the error ratio ‖model − converged‖ / ‖atomic −
converged‖ (below 1: the model's occupations are closer to the converged ones than the
atomic ones are). Groups: split × PAW element × whether the structure holds one of
``--light`` (default B, C, N, O): the split along which docs/scf-starts.md §7 found the
atomic occupations' gain on validation. A diagnostic (no SCF): it reads reference
occupations, which a prediction never does. Writes JSON.

    python benchmarks/occupation_error.py src/rhocat/pretrained/default.pt \\
        benchmarks/dataset/dataset -o benchmarks/results_occupation_error.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path


def atom_errors(occ_model, sample) -> dict[int, tuple[float, float]]:
    """Per PAW element Z of ``sample``: (Σ‖model − converged‖², Σ‖atomic − converged‖²) over
    its atoms (``rhocat.models.becsum_fit.occupation_errors``), occupations in electrons; {}
    when the sample has no converged occupations or the occupation model lacks one of its
    elements."""
    from rhocat.models.becsum_fit import occupation_errors

    out: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for z, model_sq, atomic_sq in occupation_errors(occ_model, sample):
        out[z][0] += model_sq
        out[z][1] += atomic_sq
    return {z: (m, at) for z, (m, at) in out.items()}


def group_key(split: str, symbol: str, symbols: set[str], light: set[str]) -> str:
    """``"val Cr with B/C/N/O"``-style label of a (split, PAW element, partners) group;
    ``symbols``: the structure's other elements."""
    kind = "with " + "/".join(sorted(light)) if symbols & light else "without"
    return f"{split} {symbol} {kind}"


def summarize(rows: list[dict]) -> dict:
    """Per group: cells, pooled error ratio and the cells where the model is farther."""
    acc: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for r in rows:
        g = acc[r["group"]]
        g[0] += 1
        g[1] += r["model_sq"]
        g[2] += r["atomic_sq"]
        g[3] += int(r["model_sq"] > r["atomic_sq"])
    return {
        k: {
            "cells": n,
            "error_ratio_pooled": math.sqrt(m / a) if a > 0 else None,
            "cells_model_farther": far,
        }
        for k, (n, m, a, far) in sorted(acc.items())
    }


def main(argv: list[str] | None = None) -> int:
    from ase.data import chemical_symbols

    from rhocat.data.store import Dataset
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model")
    ap.add_argument("dataset")
    ap.add_argument("--light", default="B,C,N,O", help="comma-separated partner elements")
    ap.add_argument("--ids", help="comma-separated entry ids (default: every val and test one)")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    occ_model = getattr(load_model(args.model), "becsum_model", None)
    if occ_model is None:
        ap.error(f"{args.model} has no occupation model")
    light = set(args.light.split(","))
    ds = Dataset(args.dataset)
    splits = [s for s in ds.splits() if s == "val" or s.startswith("test")]
    ids = args.ids.split(",") if args.ids else ds.ids(split=splits)
    rows = []
    for entry in ids:
        sample = ds.load(entry)
        split = ds.row(entry).split
        symbols = set(sample.elements)
        for z, (m, a) in atom_errors(occ_model, sample).items():
            sym = chemical_symbols[z]
            rows.append(
                {"id": entry, "split": split, "element": sym, "model_sq": m, "atomic_sq": a,
                 "group": group_key(split, sym, symbols - {sym}, light)}
            )  # fmt: skip
    out = {"model": args.model, "light": sorted(light), "groups": summarize(rows), "cells": rows}
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(json.dumps(out["groups"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
