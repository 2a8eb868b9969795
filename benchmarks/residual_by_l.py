"""Where an ensemble's missing density lies: by angular momentum, and on which atoms.

Per structure of a snapshot's ``val`` and ``test*`` splits, the residual
r(G) = Δρ(G) − s·Δρ̄(G) (e/bohr³; Δρ̄ the members' mean, s = 1/(1 + c u²) the card's
shrinkage) is fitted by least squares in the Hartree norm (weights 1/|G|², G = 0 left out)
on subsets of the model's own atom-centred basis. For each subset the share f of r's
Hartree energy the fit removes (0-1) is written:

- ``l0``: the l = 0 columns of every atom (spherical changes around each atom: charge moved
  between atoms, and radial shape);
- ``l0_I`` / ``l0_other``: the l = 0 columns of only the iodine atoms / only the others
  (absent for structures without iodine);
- ``le1``, ``le2``: every column up to l = 1, 2; ``all``: the whole basis (how much of r the
  basis can represent at all).

``q_l0_e`` is the charge (e, per atom in the structure's order) of the ``l0`` fit: electrons
the prediction left off (positive) or put too many on (negative) each atom, as far as the
spherical part says.

Summaries pool f over a group's structures weighted by each residual's Hartree energy, so
they say where the group's missing Hartree energy sits; groups: ``val``, ``test iodides``,
``test other``. Density only, no SCF.

    python benchmarks/residual_by_l.py src/rhocat/pretrained/default.pt \\
        benchmarks/dataset/dataset --snapshot benchmarks/full_snapshot_val206.json \\
        -o benchmarks/results_residual_by_l.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from basis_oracle import fit_coefficients, hartree_normal, hartree_weight, share_removed  # noqa: E402
from shrink_curve import density_parser, load_ensemble, val_and_test, write_report  # noqa: E402

IODINE = 53
SUBSETS = ("l0", "l0_I", "l0_other", "le1", "le2", "all")


def subset_columns(spec, numbers: np.ndarray) -> dict[str, np.ndarray]:
    """Column indices (atom-major, as :func:`basis_oracle.hartree_normal` orders them) of
    each subset of :data:`SUBSETS` for a structure with atomic numbers ``numbers``; the
    iodine subsets only where the structure has both iodine and other atoms."""
    from rhocat.models.basis import l_of_column

    l_col = l_of_column(spec)
    atom = np.repeat(np.arange(len(numbers)), spec.size)
    l_all = np.tile(l_col, len(numbers))
    is_i = np.asarray(numbers)[atom] == IODINE
    cols = {
        "l0": np.flatnonzero(l_all == 0),
        "le1": np.flatnonzero(l_all <= 1),
        "le2": np.flatnonzero(l_all <= 2),
        "all": np.arange(len(l_all)),
    }
    if is_i.any() and not is_i.all():
        cols["l0_I"] = np.flatnonzero((l_all == 0) & is_i)
        cols["l0_other"] = np.flatnonzero((l_all == 0) & ~is_i)
    return cols


def residual_row(model, sample) -> dict:
    """The shares of :data:`SUBSETS` for one sample, with the residual's and Δρ's Hartree
    weights (``e_residual``, ``e_delta``: Σ_G |·|²/|G|², the same arbitrary units)."""
    from rhocat.models.ensemble import shrink_factor, unshrunk_mean

    mean, u = unshrunk_mean(model, sample)
    s = float(shrink_factor(float(model.config["shrink_c"]), u))
    delta = np.asarray(sample.delta_rho_g)
    spec = model.spec  # the members' basis
    normal, rhs, e_res = hartree_normal(sample, spec, target=delta - s * mean)
    e_delta = hartree_weight(sample, delta)
    row = {"u": float(u), "shrink": s, "e_residual": e_res, "e_delta": e_delta}
    row["captured_pct"] = 100.0 * (1.0 - e_res / e_delta) if e_delta > 0 else 0.0
    cols = subset_columns(spec, sample.numbers)
    for name, c in cols.items():
        row[name] = share_removed(normal, rhs, e_res, c)
    row["q_l0_e"] = atom_charges(spec, fit_coefficients(normal, rhs, cols["l0"]).numpy())
    return row


def atom_charges(spec, l0_coefficients: np.ndarray) -> list[float]:
    """Per atom, the charge (e; electrons counted positive, as ρ) of the l = 0 fit whose
    coefficients (atom-major, ``spec.n_alpha`` per atom) are given: Σ_k c_ak ∫φ_k d³r."""
    from rhocat.models.basis import monopoles

    per_atom = np.asarray(l0_coefficients).reshape(-1, spec.n_alpha)
    return [float(q) for q in per_atom @ monopoles(spec)]


def pooled(rows: list[dict]) -> dict:
    """Per subset, Σ f·E / Σ E over ``rows`` (E each residual's Hartree weight), and n."""
    out: dict = {"n": len(rows)}
    for name in SUBSETS:
        have = [r for r in rows if name in r]
        weight = sum(r["e_residual"] for r in have)
        if have and weight > 0:
            out[name] = sum(r[name] * r["e_residual"] for r in have) / weight
    out["median_l0"] = float(np.median([r["l0"] for r in rows])) if rows else None
    return out


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    ap = density_parser(__doc__)
    args = ap.parse_args(argv)
    model = load_ensemble(ap, args.model)
    val, test = val_and_test(args.dataset, args.snapshot)
    groups: dict[str, list[dict]] = {"val": [], "test iodides": [], "test other": []}
    cells: dict[str, dict] = {}
    jobs = [("val", smp) for smp in val] + [
        ("test iodides" if "I" in smp.elements else "test other", smp) for smp in test
    ]
    for group, smp in tqdm(jobs, desc="residuals", unit="cell"):
        row = residual_row(model, smp)
        groups[group].append(row)
        cells[smp.id] = {"group": group, **row}
    write_report(args, model, {g: pooled(rows) for g, rows in groups.items()}, cells)
    return 0


if __name__ == "__main__":
    sys.exit(main())
