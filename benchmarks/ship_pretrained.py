"""Ship a trained checkpoint as rhocat's pretrained model, with its training card.

Copies CHECKPOINT to ``src/rhocat/pretrained/default.pt`` (with ``--first-threshold``,
``--startingwfc`` and ``--occupations``, the warm starts' first diagonalization threshold,
pw.x startingwfc and PAW occupations chosen on validation, in its metadata) and writes
``default.json``: the model kind and config, elements, pseudopotential family
and md5s, protocol and pw.x overrides of the dataset, data size per split, the
checkpoint's training metrics, and (when given) the benchmark figures.

Usage: ``python benchmarks/ship_pretrained.py CHECKPOINT DATASET [--bench RESULTS_JSON]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ase.data import chemical_symbols

from rhocat.data.store import Dataset
from rhocat.evaluate.density import density_rows, summarize_density_rows
from rhocat.predict.core import (
    FIRST_THRESHOLD_KEY,
    OCCUPATIONS_KEY,
    OCCUPATIONS_VALUES,
    STARTINGWFC_KEY,
    first_threshold,
    warm_occupations,
    warm_startingwfc,
)
from rhocat.pretrained import DEFAULT_CARD, DEFAULT_CHECKPOINT
from rhocat.qe.scf import STARTINGWFC_VALUES
from rhocat.train import read_checkpoint, save_checkpoint
from rhocat.train.checkpoint import model_from_checkpoint


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("dataset")
    ap.add_argument("--bench", default=None)
    ap.add_argument("--bench-model", default=None, help="the model's name in the bench JSON")
    ap.add_argument("--snapshot", default=None, help="ids per split the model was trained on")
    ap.add_argument(
        "--recipe",
        default="python benchmarks/dataset_recipe.py && "
        "rhocat train benchmarks/dataset/dataset --ensemble 5 -o model.pt",
    )
    ap.add_argument(
        "--first-threshold",
        type=float,
        default=None,
        help="pw.x's first diagonalization threshold for this model's warm starts, as chosen "
        "on validation cells (benchmarks/first_threshold.py); written to the checkpoint's "
        "metadata (without it the warm starts keep pw.x's own 1e-5)",
    )
    ap.add_argument(
        "--startingwfc",
        choices=STARTINGWFC_VALUES,
        default=None,
        help="pw.x's startingwfc for this model's warm starts, as chosen on validation cells "
        "(docs/scf-starts.md §4); written to the checkpoint's metadata (without it the warm "
        "starts keep pw.x's own 'atomic+random')",
    )
    ap.add_argument(
        "--occupations",
        choices=OCCUPATIONS_VALUES,
        default=None,
        help="whose PAW occupations this model's warm starts carry, as chosen on validation "
        "cells (docs/scf-starts.md §7); written to the checkpoint's metadata (without it "
        "the model's own)",
    )
    args = ap.parse_args(argv)
    if args.first_threshold is not None and not args.first_threshold > 0:
        raise SystemExit("--first-threshold must be > 0")
    content = read_checkpoint(args.checkpoint)
    metadata = json.loads(content["metadata"])
    if args.first_threshold is not None:
        metadata[FIRST_THRESHOLD_KEY] = args.first_threshold
    if args.startingwfc is not None:
        metadata[STARTINGWFC_KEY] = args.startingwfc
    if args.occupations is not None:
        metadata[OCCUPATIONS_KEY] = args.occupations
    content["metadata"] = json.dumps(metadata)
    model = model_from_checkpoint(content)
    ds = Dataset(args.dataset)
    manifest = json.loads((Path(args.dataset) / "manifest.json").read_text())
    ids = {s: ds.ids(split=s) for s in ds.splits()}
    if args.snapshot:
        snap = json.loads(Path(args.snapshot).read_text())
        ids = {s: v for s, v in snap.items() if not s.startswith("_")}
    by_id = {r.id: r for r in ds.rows(status="ok")}
    train_systems = sorted(
        {"-".join(sorted(by_id[i].element_list)) for i in ids.get("train", []) if i in by_id}
    )
    val = [ds.load(i) for i in ids.get("val", [])]
    card = {
        "kind": content["kind"],
        "config": model.config,
        "elements": [chemical_symbols[z] for z in model.elements],
        "metadata": model.metadata,
        "dataset_manifest": manifest,
        "structures_per_split": {s: len(v) for s, v in ids.items()},
        "snapshot": args.snapshot,
        "train_systems": train_systems,
        "validation": summarize_density_rows(density_rows(model, val)) if val else {},
        "training_metrics": model.metrics,
        "warm_diago_thr_init": first_threshold(model),
        "warm_startingwfc": warm_startingwfc(model),
        "warm_occupations": warm_occupations(model),
        "recipe": args.recipe,
    }
    if args.bench and Path(args.bench).is_file():
        bench = json.loads(Path(args.bench).read_text())
        name = args.bench_model or content["kind"]
        card["benchmark"] = bench.get("models", {}).get(name, {}).get("splits")
    DEFAULT_CHECKPOINT.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(DEFAULT_CHECKPOINT, content)
    card["checkpoint_bytes"] = DEFAULT_CHECKPOINT.stat().st_size
    DEFAULT_CARD.write_text(json.dumps(card, indent=1, default=str) + "\n")
    print(json.dumps({k: card[k] for k in ("kind", "elements", "structures_per_split")}, indent=1))


if __name__ == "__main__":
    main()
