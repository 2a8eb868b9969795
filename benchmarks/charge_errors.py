"""Is charge put on the wrong atom where the ensemble captures least? Every val and test cell.

Per structure of a snapshot's ``val`` and ``test*`` splits: the Voronoi charges
(:func:`iodide_charges.voronoi_charges`, e gained per atom, neutral by construction) of the
reference Δρ and of the shipped prediction s·Δρ̄ (s = 1/(1 + c u²), the card's c), the
largest error over the atoms ``dq_max`` (e) and the captured share of Δρ's Hartree norm
(%). Per split: the mean and median ``dq_max``, Spearman's ρ between ``dq_max`` and the
missing share (100 − captured), and the cells with the largest errors. Density only.

    python benchmarks/charge_errors.py src/rhocat/pretrained/default.pt \\
        benchmarks/dataset/dataset --snapshot benchmarks/full_snapshot_val206.json \\
        -o benchmarks/results_charge_errors_val206.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from iodide_charges import voronoi_charges  # noqa: E402
from shrink_curve import density_parser, load_ensemble, val_and_test, write_report  # noqa: E402

WORST = 10


def error_row(model, sample) -> dict:
    """Voronoi charges of reference and prediction, their largest difference and the
    captured share (%) of one structure."""
    from rhocat.models.ensemble import shrink_factor, unshrunk_mean
    from rhocat.train.metrics import hartree_energy_ry

    mean, u = unshrunk_mean(model, sample)
    pred = shrink_factor(float(model.config["shrink_c"]), u) * mean
    target = np.asarray(sample.delta_rho_g)
    g, vol = np.asarray(sample.g_cart), sample.volume_bohr3
    size = hartree_energy_ry(target, g, vol)
    captured = 100.0 * (1.0 - hartree_energy_ry(pred - target, g, vol) / size)
    q_ref, q_pred = voronoi_charges(sample, target), voronoi_charges(sample, pred)
    return {
        "elements": sample.elements,
        "q_ref": q_ref,
        "q_pred": q_pred,
        "dq_max": float(np.max(np.abs(np.subtract(q_pred, q_ref)))),
        "captured_pct": float(captured),
    }


def split_summary(rows: dict[str, dict]) -> dict:
    """Mean/median ``dq_max``, Spearman ρ with the missing share, and the worst cells."""
    from scipy.stats import spearmanr

    dq = np.array([r["dq_max"] for r in rows.values()])
    missing = np.array([100.0 - r["captured_pct"] for r in rows.values()])
    rho, p = spearmanr(dq, missing)
    worst = sorted(rows, key=lambda k: -rows[k]["dq_max"])[:WORST]
    return {
        "n": len(rows),
        "dq_max_mean": float(dq.mean()),
        "dq_max_median": float(np.median(dq)),
        "spearman_dq_vs_missing": float(rho),
        "spearman_p": float(p),
        "largest_errors": {k: [rows[k]["dq_max"], rows[k]["captured_pct"]] for k in worst},
    }


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    ap = density_parser(__doc__)
    args = ap.parse_args(argv)
    model = load_ensemble(ap, args.model)
    val, test = val_and_test(args.dataset, args.snapshot)
    cells: dict[str, dict[str, dict]] = {"val": {}, "test": {}}
    for split, samples in (("val", val), ("test", test)):
        for smp in tqdm(samples, desc=split, unit="cell"):
            cells[split][smp.id] = error_row(model, smp)
    summary = {split: split_summary(rows) for split, rows in cells.items()}
    write_report(args, model, summary, cells)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
