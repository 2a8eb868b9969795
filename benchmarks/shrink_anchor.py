"""Shrink toward the ACS or toward a floor? An ensemble's uncertain cells on validation and test.

The shipped prediction is s·Δρ̄ with s = 1 / (1 + c u²): an uncertain structure falls back
toward the ACS (Δρ = 0). #10 also names the other fall-back, toward the floor f:
f + s·(Δρ̄ − f). For the ensemble checkpoint MODEL and each anchor

- ``acs``: f = 0 (what rhocat ships);
- ``ridge``: the per-element radial floor, the ridge fit of l = 0 coefficients over the
  snapshot's ``train`` split with the members' basis and ridge settings
  (:func:`rhocat.models.radial.fit_radial_table`, what initialises each member's baseline);
- ``baseline``: the members' own trained per-element l = 0 coefficients, averaged;

the captured share of Δρ's Hartree norm on the ``val`` and ``test*`` structures follows in
closed form for every c of the grid (E_H(f + s d − Δρ) = s² E(d) + 2s⟨d, f − Δρ⟩ + E(f −
Δρ), d = Δρ̄ − f). Per anchor: the floor alone, c chosen on validation by the mean captured
share, and the validation and test figures at that c (test reported, never used to choose).
Writes JSON.

    python benchmarks/shrink_anchor.py src/rhocat/pretrained/default.pt \\
        benchmarks/dataset/dataset --snapshot benchmarks/full_snapshot_val206.json \\
        -o benchmarks/results_shrink_anchor_val206.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shrink_curve import density_parser, load_ensemble, val_and_test  # noqa: E402

C_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
ANCHORS = ("acs", "ridge", "baseline")


def l0_density(spec, table_rows: np.ndarray, sample) -> np.ndarray:
    """(ngm,) Δρ(G) (e/bohr³) of per-atom l = 0 coefficients ``table_rows`` (n_atoms,
    n_alpha) in the basis ``spec``, on the sample's G list (G = 0 set to 0)."""
    import torch

    from rhocat.models.basis import evaluate_g

    coeffs = np.zeros((len(sample.numbers), spec.size))
    coeffs[:, : spec.n_alpha] = table_rows
    vol = abs(float(np.linalg.det(sample.cell_bohr)))
    out = evaluate_g(
        spec,
        torch.as_tensor(coeffs),
        torch.as_tensor(np.asarray(sample.positions_bohr, dtype=float)),
        torch.as_tensor(np.asarray(sample.g_cart, dtype=float)),
        vol,
        partners=None,
    )
    out = out.detach().numpy().astype(np.complex128)
    out[np.all(np.asarray(sample.miller) == 0, axis=1)] = 0.0
    return out


def anchor_tables(model, train_samples) -> dict[str, dict[int, np.ndarray]]:
    """Per anchor but ``acs``, element -> its l = 0 coefficients (n_alpha,)."""
    from rhocat.models.radial import fit_radial_table

    first = model.members[0]
    ridge = fit_radial_table(
        train_samples,
        first.spec,
        first.elements,
        first.config["baseline_ridge_lambda"],
        first.config["baseline_ridge_scale"],
    )
    base = np.mean([m.baseline.detach().numpy() for m in model.members], axis=0)
    return {
        "ridge": {z: ridge[i] for i, z in enumerate(first.elements)},
        "baseline": {z: base[z] for z in first.elements},
    }


def quadratic_terms(model, tables, samples) -> dict[str, np.ndarray]:
    """Per anchor, (n, 5): E(d), ⟨d, f − Δρ⟩, E(f − Δρ), E(Δρ) (Ry) and u per sample."""
    from tqdm import tqdm

    from rhocat.models.ensemble import unshrunk_mean
    from rhocat.train.metrics import hartree_energy_ry

    out: dict[str, list] = {a: [] for a in ANCHORS}
    for smp in tqdm(samples, desc="anchors", unit="structure"):
        g, vol = np.asarray(smp.g_cart), smp.volume_bohr3
        mean, u = unshrunk_mean(model, smp)
        truth = np.asarray(smp.delta_rho_g)
        e_true = hartree_energy_ry(truth, g, vol)
        for a in ANCHORS:
            if a == "acs":
                floor = np.zeros_like(mean)
            else:
                rows = np.array([tables[a][int(z)] for z in smp.numbers])
                floor = l0_density(model.spec, rows, smp)
            d, e0 = mean - floor, floor - truth
            e_d, e_e0 = hartree_energy_ry(d, g, vol), hartree_energy_ry(e0, g, vol)
            cross = 0.5 * (hartree_energy_ry(d + e0, g, vol) - e_d - e_e0)
            out[a].append((e_d, cross, e_e0, e_true, u))
    return {a: np.asarray(v, dtype=float).reshape(-1, 5) for a, v in out.items()}


def captured(terms: np.ndarray, c: float) -> np.ndarray:
    """Captured share (%) per sample of f + s·(Δρ̄ − f), s = 1 / (1 + c u²)."""
    s = 1.0 / (1.0 + c * terms[:, 4] ** 2)
    err = s * s * terms[:, 0] + 2 * s * terms[:, 1] + terms[:, 2]
    return np.where(
        terms[:, 3] > 0, 100.0 * (1.0 - err / np.where(terms[:, 3] > 0, terms[:, 3], 1)), 0.0
    )


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.evaluate.density import capture_summary

    ap = density_parser(__doc__)
    args = ap.parse_args(argv)
    model = load_ensemble(ap, args.model)
    snap = json.loads(Path(args.snapshot).read_text())
    ds = Dataset(args.dataset)
    tables = anchor_tables(model, [ds.load(i) for i in snap["train"]])
    val, test = val_and_test(args.dataset, args.snapshot)
    terms = {
        "val": quadratic_terms(model, tables, val),
        "test": quadratic_terms(model, tables, test),
    }
    ids = {"val": [s.id for s in val], "test": [s.id for s in test]}
    out: dict = {"model": args.model, "snapshot": args.snapshot, "anchors": {}}
    for a in ANCHORS:
        curve = {c: float(captured(terms["val"][a], c).mean()) for c in C_GRID}
        best = max(curve, key=lambda k: (curve[k], -k))
        out["anchors"][a] = {
            "val_curve": {str(c): v for c, v in curve.items()},
            "chosen_c": best,
            "floor_alone": {
                g: capture_summary(100.0 * (1 - terms[g][a][:, 2] / terms[g][a][:, 3]), ids[g])
                for g in ("val", "test")
            },
            "at_chosen_c": {
                g: capture_summary(captured(terms[g][a], best), ids[g]) for g in ("val", "test")
            },
            "cells": {
                g: {i: float(v) for i, v in zip(ids[g], captured(terms[g][a], best), strict=True)}
                for g in ("val", "test")
            },
        }
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(
        json.dumps(
            {a: {k: v for k, v in r.items() if k != "cells"} for a, r in out["anchors"].items()},
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
