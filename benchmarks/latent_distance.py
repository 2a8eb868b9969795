"""Does a structure's distance from the training data say what the ensemble's spread misses?

For the ensemble checkpoint MODEL, every atom of every structure is summarized by each
member's encoder (:meth:`EquivariantBasisModel.atom_descriptors`: the last hidden layer's
l = 0 channels and the norms of its l > 0 channels), standardized per member and channel
over the atoms of the snapshot's ``train`` split. An atom's novelty is its Euclidean
distance, divided by √(channels), to the nearest training atom of the same element,
averaged over the members; a structure's novelty D is the largest over its atoms
(``--reduce max``, the default) or their mean. For the ``val`` and ``test*`` splits:
D, u (the members' spread), the residual share r = 1 − captured of the unshrunk mean,
Spearman(D, r) and Spearman(u, r), and the shrinkage s = 1 / (1 + c u² + d D²) whose
(c, d) on the grids maximizes the mean captured share on validation (test figures are
reported at the validation choice, never used to choose). Writes JSON.

    python benchmarks/latent_distance.py src/rhocat/pretrained/default.pt \\
        benchmarks/dataset/dataset --snapshot benchmarks/full_snapshot_val206.json \\
        -o benchmarks/results_latent_distance_val206.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shrink_curve import density_parser, load_ensemble, val_and_test  # noqa: E402

C_GRID = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
D_GRID = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def member_descriptors(model, numbers, positions_bohr, cell_bohr) -> list[np.ndarray]:
    """Per member, the (n_atoms, channels) atom descriptors of one structure."""
    import torch

    z = torch.as_tensor(np.asarray(numbers), dtype=torch.long)
    graph = model.members[0].graph(np.asarray(positions_bohr), np.asarray(cell_bohr))
    with torch.inference_mode():
        return [m.atom_descriptors(z, graph).numpy() for m in model.members]


class TrainingAtoms:
    """Each member's standardized descriptors of the training atoms, by element."""

    def __init__(self, per_structure: list[tuple[np.ndarray, list[np.ndarray]]]):
        n_members = len(per_structure[0][1])
        numbers = np.concatenate([z for z, _ in per_structure])
        self.scale, self.by_element = [], []
        for k in range(n_members):
            desc = np.concatenate([d[k] for _, d in per_structure])
            mean, std = desc.mean(axis=0), desc.std(axis=0)
            std = np.where(std > 1e-12, std, 1.0)
            self.scale.append((mean, std))
            z_std = (desc - mean) / std
            self.by_element.append({int(z): z_std[numbers == z] for z in np.unique(numbers)})

    def novelty(self, numbers, descriptors: list[np.ndarray]) -> np.ndarray:
        """(n_atoms,) each atom's distance / √channels to the nearest training atom of its
        element, averaged over members (inf for an element absent from training)."""
        out = np.zeros(len(numbers))
        for k, desc in enumerate(descriptors):
            mean, std = self.scale[k]
            x = (desc - mean) / std
            for i, z in enumerate(numbers):
                ref = self.by_element[k].get(int(z))
                if ref is None:
                    out[i] = np.inf
                    continue
                d2 = np.sum((ref - x[i]) ** 2, axis=1).min()
                out[i] += np.sqrt(d2 / x.shape[1]) / len(descriptors)
        return out


def training_atoms(model, dataset: str, ids: list[str]) -> TrainingAtoms:
    from tqdm import tqdm

    from rhocat.data.entry import read_entry
    from rhocat.data.store import Dataset

    ds = Dataset(dataset)
    rows = []
    for i in tqdm(ids, desc="training atoms", unit="structure"):
        rec = read_entry(ds.file_of(i))
        rows.append(
            (
                np.asarray(rec.numbers),
                member_descriptors(model, rec.numbers, rec.positions_bohr, rec.cell_bohr),
            )
        )
    return TrainingAtoms(rows)


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).correlation)


def group_rows(model, train: TrainingAtoms, samples, reduce: str) -> tuple[list[dict], np.ndarray]:
    from tqdm import tqdm

    from rhocat.models.ensemble import shrinkage_stats

    stats = shrinkage_stats(model, samples)
    rows = []
    for smp in tqdm(samples, desc="novelty", unit="structure"):
        nov = train.novelty(
            smp.numbers,
            member_descriptors(model, smp.numbers, smp.positions_bohr, smp.cell_bohr),
        )
        rows.append({"id": smp.id, "novelty": float(nov.max() if reduce == "max" else nov.mean())})
    return rows, stats


def shrink_of(stats: np.ndarray, novelty: np.ndarray, c: float, d: float) -> np.ndarray:
    u = stats[:, 3]
    return 1.0 / (1.0 + c * u * u + d * novelty * novelty)


def summary(rows: list[dict], stats: np.ndarray, c: float, d: float, c_only: float) -> dict:
    """Spearman correlations and captured shares at (c, d) and at u alone (c_only, 0)."""
    from rhocat.models.ensemble import captured_after_shrink

    nov = np.array([r["novelty"] for r in rows])
    raw = captured_after_shrink(stats, np.ones(len(rows)))
    res = 1.0 - raw / 100.0
    cap = captured_after_shrink(stats, shrink_of(stats, nov, c, d))
    base = captured_after_shrink(stats, shrink_of(stats, nov, c_only, 0.0))
    scales = shrink_of(stats, nov, c, d)
    for r, cu, cb, cr, s, u in zip(rows, cap, base, raw, scales, stats[:, 3], strict=True):
        r.update(
            captured_pct=float(cu),
            captured_u_only_pct=float(cb),
            captured_unshrunk_pct=float(cr),
            uncertainty=float(u),
            shrink=float(s),
        )
    return {
        "n": len(rows),
        "spearman_novelty_residual": spearman(nov, res),
        "spearman_u_residual": spearman(stats[:, 3], res),
        "spearman_novelty_u": spearman(nov, stats[:, 3]),
        "captured_mean": float(cap.mean()),
        "captured_worst": float(cap.min()),
        "captured_u_only_mean": float(base.mean()),
        "captured_u_only_worst": float(base.min()),
        "below_acs": int((cap < 0).sum()),
        "below_acs_u_only": int((base < 0).sum()),
    }


def main(argv: list[str] | None = None) -> int:
    from rhocat.models.ensemble import captured_after_shrink

    ap = density_parser(__doc__)
    ap.add_argument("--reduce", choices=("max", "mean"), default="max")
    args = ap.parse_args(argv)
    model = load_ensemble(ap, args.model)
    snap = json.loads(Path(args.snapshot).read_text())
    train = training_atoms(model, args.dataset, snap["train"])
    val_samples, test_samples = val_and_test(args.dataset, args.snapshot)
    val, val_stats = group_rows(model, train, val_samples, args.reduce)
    test, test_stats = group_rows(model, train, test_samples, args.reduce)
    val_nov = np.array([r["novelty"] for r in val])
    grid = {
        (c, d): float(
            np.mean(captured_after_shrink(val_stats, shrink_of(val_stats, val_nov, c, d)))
        )
        for c in C_GRID
        for d in D_GRID
    }
    c_best, d_best = max(grid, key=lambda k: (grid[k], -k[1], -k[0]))
    c_only = max((k for k in grid if k[1] == 0.0), key=lambda k: (grid[k], -k[0]))[0]
    out = {
        "model": args.model,
        "snapshot": args.snapshot,
        "reduce": args.reduce,
        "choice": {"c": c_best, "d": d_best, "val_captured_mean": grid[(c_best, d_best)]},
        "choice_u_only": {"c": c_only, "val_captured_mean": grid[(c_only, 0.0)]},
        "val_grid": {f"c={c},d={d}": v for (c, d), v in grid.items()},
        "val": summary(val, val_stats, c_best, d_best, c_only),
        "test": summary(test, test_stats, c_best, d_best, c_only),
        "cells": {"val": val, "test": test},
    }
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(json.dumps({k: out[k] for k in ("choice", "choice_u_only", "val", "test")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
