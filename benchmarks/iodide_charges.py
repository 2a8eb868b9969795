"""How much charge moves onto iodine: the reference density against the ensemble's.

For every structure of the snapshots that contains iodine (any split), the charge per atom
(e; electrons gained, as Δρ counts them) that a density change moves, measured two ways:

- **Voronoi charges** (``q_ref``, ``q_pred``): Δρ(r) on the structure's FFT grid summed
  over each atom's Voronoi cell (grid points nearer to it than to any other atom, periodic
  images included), times the volume per point. They sum to 0 exactly (Δρ(G = 0) = 0) and
  depend on the density alone, not on a basis.
- **Basis l = 0 charges** (``q_ref_basis``, ``q_pred_basis``): the charges of the l = 0
  coefficients, for the reference Δρ of its least-squares fit on the ensemble's whole basis
  in the Hartree norm (:func:`basis_oracle.hartree_normal`, G = 0 left out), for the model
  of the members' unshrunk mean coefficients. Overlapping diffuse functions make them a
  property of the basis as much as of the density: they need not sum to 0.

``q_ref`` is ρ_SCF − ρ_ACS, ``q_pred`` the members' unshrunk mean Δρ̄. Per structure also
the split, the fit's captured share (``basis_ceiling``, the basis's ceiling there), the
mean of each charge on the iodine atoms, and the Pauling electronegativities (pymatgen) of
the partners. A measurement (docs/ablation.md), density only.

    S=benchmarks/full_snapshot
    python benchmarks/iodide_charges.py src/rhocat/pretrained/default.pt \\
        benchmarks/dataset/dataset --snapshot ${S}_prototypes_all.json,${S}_val206.json \\
        -o benchmarks/results_iodide_charges.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from basis_oracle import fit_coefficients, hartree_normal, share_removed  # noqa: E402
from residual_by_l import IODINE, atom_charges  # noqa: E402
from shrink_curve import density_parser, load_ensemble, mean_coefficients  # noqa: E402


def l0_columns(spec, n_atoms: int) -> np.ndarray:
    """Column indices (atom-major) of every atom's l = 0 functions."""
    from rhocat.models.basis import l_of_column

    return np.flatnonzero(np.tile(l_of_column(spec) == 0, n_atoms))


def basis_charges(spec, coeffs, n_atoms: int) -> list[float]:
    """Per atom, the charge (e) of the l = 0 part of per-atom coefficients ``coeffs``
    ((n_atoms, spec.size) or flat, atom-major)."""
    flat = np.asarray(coeffs, dtype=np.float64).reshape(-1)
    return atom_charges(spec, flat[l0_columns(spec, n_atoms)])


def reference_charges(spec, sample) -> tuple[list[float], float]:
    """Per atom, the l = 0 charge (e) of the whole-basis fit of the sample's Δρ, and the
    share (0-1) of Δρ's Hartree energy that fit captures."""
    normal, rhs, total = hartree_normal(sample, spec)
    coef = fit_coefficients(normal, rhs).numpy()
    return basis_charges(spec, coef, len(sample.numbers)), share_removed(normal, rhs, total)


def voronoi_charges(sample, delta_g: np.ndarray) -> list[float]:
    """Per atom, Σ Δρ(r)·ΔV over the grid points of its Voronoi cell (e; periodic images
    included). ``delta_g``: Δρ(G), e/bohr³, on ``sample``'s G list; G = 0 is left out, so
    the charges sum to 0."""
    from rhocat.models.grid import g_to_grid, grid_points_bohr

    values = np.asarray(delta_g, dtype=np.complex128).copy()
    values[np.all(np.asarray(sample.miller) == 0, axis=1)] = 0.0
    shape = tuple(int(n) for n in sample.fft_grid)
    rho = g_to_grid(values, sample.miller, shape).reshape(-1)
    cell = np.asarray(sample.cell_bohr, dtype=np.float64)
    frac_atoms = np.linalg.solve(cell.T, np.asarray(sample.positions_bohr).T).T
    frac = np.linalg.solve(cell.T, grid_points_bohr(cell, shape).T).T
    images = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    owner = np.empty(len(frac), dtype=np.int64)
    for start in range(0, len(frac), 16384):
        d = frac[start : start + 16384, None, :] - frac_atoms[None, :, :]
        d -= np.round(d)  # to the nearest image along each axis, then the 27 around it
        cart = (d[:, :, None, :] + images[None, None, :, :]) @ cell
        owner[start : start + 16384] = np.argmin((cart**2).sum(-1).min(-1), axis=1)
    d_volume = sample.volume_bohr3 / len(rho)
    return [float(rho[owner == a].sum() * d_volume) for a in range(len(frac_atoms))]


def charge_row(model, sample, split: str) -> dict:
    """The row of one structure (see the module docstring)."""
    import torch
    from pymatgen.core import Element

    from rhocat.models.basis import evaluate_g

    q_ref_basis, ceiling = reference_charges(model.spec, sample)
    coeffs = mean_coefficients(model, sample)  # one encoder pass for both model charges
    mean = evaluate_g(
        model.spec,
        coeffs,
        torch.as_tensor(np.asarray(sample.positions_bohr, dtype=np.float64)),
        torch.as_tensor(np.asarray(sample.g_cart, dtype=np.float64)),
        sample.volume_bohr3,
    ).numpy()
    row = {
        "split": split,
        "symbols": [Element.from_Z(int(z)).symbol for z in sample.numbers],
        "q_ref": voronoi_charges(sample, sample.delta_rho_g),
        "q_pred": voronoi_charges(sample, mean),
        "q_ref_basis": q_ref_basis,
        "q_pred_basis": basis_charges(model.spec, coeffs.double().numpy(), len(coeffs)),
        "basis_ceiling": ceiling,
    }
    on_i = np.asarray(sample.numbers) == IODINE
    for key in ("q_ref", "q_pred", "q_ref_basis", "q_pred_basis"):
        row[f"{key}_on_I"] = float(np.mean(np.asarray(row[key])[on_i]))
    partners = sorted({s for s in row["symbols"] if s != "I"})
    row["pauling"] = {s: Element(s).X for s in partners}
    return row


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from rhocat.data.store import Dataset

    ap = density_parser(__doc__)
    args = ap.parse_args(argv)
    model = load_ensemble(ap, args.model)
    ds = Dataset(args.dataset)
    split_of: dict[str, str] = {}  # --snapshot may name several files, comma-separated
    for path in args.snapshot.split(","):
        for split, ids in json.loads(Path(path).read_text()).items():
            for sid in ids if not split.startswith("_") else []:
                split_of.setdefault(sid, split)
    with_iodine = [i for i in split_of if "I" in ds.row(i).element_list]
    jobs = [(split_of[i], ds.load(i)) for i in with_iodine]
    rows = {smp.id: charge_row(model, smp, split) for split, smp in tqdm(jobs, unit="cell")}
    Path(args.output).write_text(json.dumps({"model": args.model, "cells": rows}, indent=1))
    for sid, r in rows.items():
        print(
            f"{r['split']:12s} {sid:28s} ref {r['q_ref_on_I']:+.3f}  pred {r['q_pred_on_I']:+.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
