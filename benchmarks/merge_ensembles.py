"""One ensemble from the members of several (same basis and elements), shrinkage chosen on val.

Δρ is linear in the basis coefficients, so an ensemble of K members costs K encoder passes
(batched) and one basis evaluation; merging two trained ensembles of 5 gives one of 10
without training. The first ensemble's metadata (card) and PAW-occupation model are kept;
``shrink_c`` is chosen anew on the validation structures of the snapshot
(``calibrate_shrinkage``). Prints JSON: members, c and the validation curve.

    python benchmarks/merge_ensembles.py src/rhocat/pretrained/default.pt \
        benchmarks/checkpoints/seeds59-8000.pt --snapshot benchmarks/full_snapshot.json \
        -o /tmp/ensemble10.pt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def merged(ensembles: list, shrink_c: float = 0.0):
    """An :class:`EnsembleModel` holding every member of ``ensembles`` in order, with the
    first one's metadata and PAW-occupation model."""
    from rhocat.models.ensemble import EnsembleModel

    members = [m for ens in ensembles for m in ens.members]
    out = EnsembleModel.from_members(members, shrink_c=shrink_c)
    out.metadata = dict(getattr(ensembles[0], "metadata", {}) or {})
    occ = getattr(ensembles[0], "becsum_model", None)
    if occ is not None:
        out.becsum_model = occ
    return out


def ensembles_arguments(
    doc: str, output_help: str, argv: list[str] | None
) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The parser and arguments of a script over two or more ensemble checkpoints:
    ``ensembles``, ``--snapshot`` (ids per split; c is chosen on its val), ``--data`` and
    ``-o``; a usage error for fewer than two checkpoints."""
    ap = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("ensembles", nargs="+", help="ensemble checkpoints (two or more)")
    ap.add_argument("--snapshot", required=True, help="ids per split; c is chosen on its val")
    ap.add_argument("--data", default=str(HERE / "dataset" / "dataset"))
    ap.add_argument("-o", "--output", required=True, help=output_help)
    args = ap.parse_args(argv)
    if len(args.ensembles) < 2:
        ap.error("give two or more ensemble checkpoints")
    return ap, args


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.snapshot import split_snapshot
    from rhocat.data.store import Dataset
    from rhocat.models.ensemble import calibrate_shrinkage
    from rhocat.train import load_model
    from rhocat.train.checkpoint import checkpoint_dict, save_checkpoint

    ap, args = ensembles_arguments(__doc__, "the merged checkpoint (.pt)", argv)
    models = [load_model(p) for p in args.ensembles]
    if not all(hasattr(m, "members") for m in models):
        ap.error("every checkpoint must hold an ensemble")
    ds = Dataset(args.data)
    val = [ds.load(i) for i in split_snapshot(ds, args.snapshot).get("val", [])]
    model = merged(models)
    c, curve = calibrate_shrinkage(model, val)
    model.config["shrink_c"] = c
    save_checkpoint(Path(args.output), checkpoint_dict(model))
    report = {"members": len(model.members), "shrink_c": c, "val_captured_by_c": curve}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
