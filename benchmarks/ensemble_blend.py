"""Several trained ensembles as one: the mean of all their members' coefficients.

Ensembles whose members differ in configuration (e.g. ``pair_mode``) cannot be stacked
into one :class:`rhocat.models.ensemble.EnsembleModel` (its members run as one batched
call), but Δρ is still linear in the coefficients: the blend's Δρ̄ is the mean of every
member's coefficients through one basis evaluation, and its uncertainty u the spread of
all members (the ensemble's formula, over K = the sum of the members). For the blend and
for each ensemble alone: ``shrink_c`` chosen on the snapshot's ``val`` split
(``calibrate_shrinkage``), then validation and test figures at that c (captured share of
Δρ's Hartree norm, NMAE, inference seconds per structure). Writes JSON.

    python benchmarks/ensemble_blend.py benchmarks/checkpoints/pairradial-16000.pt \
        benchmarks/checkpoints/pairall-16000.pt \
        --snapshot benchmarks/full_snapshot_val206.json \
        -o benchmarks/results_ensemble_blend_radial_gate.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from merge_ensembles import ensembles_arguments  # noqa: E402
from shrink_curve import val_and_test  # noqa: E402


def blended(ensembles: list):
    """The first ensemble, changed in place so that its coefficients are those of every
    member of ``ensembles`` ((sum K, n_atoms, size), in order); its card, basis and PAW
    occupation model are the first one's. Every ensemble must share the first one's basis
    and elements."""
    import torch

    from rhocat.errors import ModelError

    first = ensembles[0]
    for other in ensembles[1:]:
        if other.spec != first.spec or other.elements != first.elements:
            raise ModelError("blended ensembles must share their basis and elements")
    own = [e.member_coefficients for e in ensembles]

    def member_coefficients(numbers, positions_bohr, cell_bohr):
        return torch.cat([f(numbers, positions_bohr, cell_bohr) for f in own])

    first.member_coefficients = member_coefficients
    first.blend_members = sum(len(e.members) for e in ensembles)
    return first


def figures(model, val: list, test: list) -> dict:
    """c chosen on ``val``, the captured-share curve over c, and the val and test figures
    at that c (with the median inference seconds per structure) and each structure's
    captured share."""
    from rhocat.evaluate.density import density_rows, summarize_density_rows
    from rhocat.models.ensemble import calibrate_shrinkage

    c, curve = calibrate_shrinkage(model, val)
    model.config["shrink_c"] = c
    out = {"chosen_c": c, "captured_mean_pct": curve}
    for name, samples in (("val", val), ("test", test)):
        rows = density_rows(model, samples)
        out[name] = summarize_density_rows(rows)
        out[name]["captured_pct"] = {r["id"]: r["captured_pct"] for r in rows}
    return out


def main(argv: list[str] | None = None) -> int:
    from rhocat.models.ensemble import EnsembleModel
    from rhocat.train import load_model

    ap, args = ensembles_arguments(__doc__, "the figures (.json)", argv)
    val, test = val_and_test(args.data, args.snapshot)
    out: dict = {"ensembles": args.ensembles, "snapshot": args.snapshot, "alone": {}}
    for path in args.ensembles:
        model = load_model(path)
        if not isinstance(model, EnsembleModel):
            ap.error(f"{path}: not an ensemble")
        out["alone"][path] = figures(model, val, test)
        print(path, json.dumps(out["alone"][path]["val"]["captured_mean_pct"]), flush=True)
    blend = blended([load_model(p) for p in args.ensembles])
    out["blend"] = {"members": blend.blend_members, **figures(blend, val, test)}
    Path(args.output).write_text(json.dumps(out, indent=1))
    brief = {k: v for k, v in out["blend"].items() if k not in ("val", "test")}
    print(json.dumps(brief, indent=1))
    print(json.dumps({k: out["blend"][k]["captured_mean_pct"] for k in ("val", "test")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
