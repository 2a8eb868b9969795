"""The ceiling of an atom-centred basis on the benchmark's structures (field notes §2b).

Per structure, the per-atom coefficients that best fit its Δρ(G) = ρ_SCF − ρ_ACS in the
Hartree norm (weights 1/|G|², G = 0 excluded) — an *oracle*: no model using that basis can
capture more. Printed and written per basis and split: the Hartree share of Δρ captured
(mean, median, worst), and per structure, so that the cells a model fails on can be told
apart from the cells its basis cannot represent.

    python benchmarks/basis_oracle.py benchmarks/dataset/dataset \\
        --snapshot benchmarks/full_snapshot.json --splits val,test_binary,test_ternary \\
        --bases small,large --max-atoms 8 -o benchmarks/results_basis_oracle.json

``small`` and ``large`` are the basis model's presets (l ≤ 4, 10 exponents; l ≤ 6, 16
exponents). Structures already in the output are kept (resumable).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rhocat.models.basis import (
    G_ZERO_TOL,
    BasisSpec,
    design_real,
    half_list,
    inversion_partners,
    structure_phases,
)
from rhocat.train.config import resolve_config


def preset_basis(name: str) -> BasisSpec:
    """The basis of the basis model's preset ``name`` ('small' or 'large')."""
    return BasisSpec.from_dict(resolve_config("basis", name)["model"]["basis"])


def fit_weights(sample) -> tuple[np.ndarray, torch.Tensor]:
    """The G vectors a Hartree-norm fit uses and their weights: ``(keep, w)``, indices into
    ``sample``'s G list (one G of each ±G pair, G = 0 left out) and w_G = m_G/|G|² (bohr²;
    m_G = 2 where −G is left out, else 1)."""
    g_all = np.asarray(sample.g_cart, dtype=np.float64)
    partners = inversion_partners(g_all, np.asarray(sample.cell_bohr))
    if partners is None:
        keep, mult = np.arange(len(g_all)), np.ones(len(g_all))
    else:
        keep = half_list(partners)[0]
        mult = np.where(partners[keep] == keep, 1.0, 2.0)
    g2 = (g_all[keep] ** 2).sum(axis=1)
    nonzero = g2 > G_ZERO_TOL**2
    return keep[nonzero], torch.as_tensor(mult[nonzero] / g2[nonzero])


def hartree_weight(sample, target: np.ndarray) -> float:
    """E = Σ_G w_G |t_G|² of ``target`` (e/bohr³ on ``sample``'s G list) with
    :func:`fit_weights`' weights: the ``E`` of :func:`hartree_normal`, without the fit."""
    keep, w = fit_weights(sample)
    t = torch.as_tensor(np.asarray(target, dtype=np.complex128)[keep])
    return float((w * (t.real**2 + t.imag**2)).sum())


def hartree_normal(
    sample, spec: BasisSpec, target: np.ndarray | None = None, chunk: int = 2048
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Normal equations of the Hartree-norm fit of ``target`` (default: ``sample``'s Δρ(G),
    e/bohr³) by the per-atom coefficients of ``spec``.

    With Φ_G,(a,k) = FT[φ_k](G) e^{−iG·R_a}/Ω and weights w_G = 1/|G|² (G = 0 excluded; one
    G of each ±G pair, weighted twice), returns ``(N, b, E)``: N = Re Φ^H W Φ and
    b = Re Φ^H W t, both over columns ordered atom-major (column a·size + k), and
    E = Σ_G w_G |t_G|², proportional to the target's Hartree energy.
    """
    target = np.asarray(sample.delta_rho_g if target is None else target, dtype=np.complex128)
    keep, w = fit_weights(sample)
    g = torch.as_tensor(np.asarray(sample.g_cart, dtype=np.float64)[keep])
    t = target[keep]
    t_re, t_im = torch.as_tensor(t.real), torch.as_tensor(t.imag)
    pos = torch.as_tensor(np.asarray(sample.positions_bohr, dtype=np.float64))
    n_cols = len(pos) * spec.size
    normal = torch.zeros(n_cols, n_cols, dtype=torch.float64)
    rhs = torch.zeros(n_cols, dtype=torch.float64)
    for start in range(0, len(g), chunk):
        sl = slice(start, start + chunk)
        a, odd = design_real(spec, g[sl])  # (ng, size): FT = a (even l), i·a (odd l)
        cos, msin = structure_phases(g[sl], pos)  # e^{−iG·R} = cos + i·msin
        re = torch.where(odd, -a[:, None, :] * msin[:, :, None], a[:, None, :] * cos[:, :, None])
        im = torch.where(odd, a[:, None, :] * cos[:, :, None], a[:, None, :] * msin[:, :, None])
        re = re.reshape(len(a), -1) / sample.volume_bohr3
        im = im.reshape(len(a), -1) / sample.volume_bohr3
        ws = w[sl, None]
        normal += re.T @ (ws * re) + im.T @ (ws * im)
        rhs += re.T @ (w[sl] * t_re[sl]) + im.T @ (w[sl] * t_im[sl])
    total = float((w * (t_re**2 + t_im**2)).sum())
    return normal, rhs, total


def _restrict(
    normal: torch.Tensor, rhs: torch.Tensor, columns: np.ndarray | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``N`` and ``b`` of :func:`hartree_normal` on ``columns`` only (as they are when None)."""
    if columns is None:
        return normal, rhs
    idx = torch.as_tensor(np.asarray(columns, dtype=np.int64))
    return normal[idx][:, idx], rhs[idx]


def fit_coefficients(
    normal: torch.Tensor, rhs: torch.Tensor, columns: np.ndarray | None = None
) -> torch.Tensor:
    """The least-squares coefficients on ``columns`` (all when None) from
    :func:`hartree_normal`'s ``N`` and ``b``: (N + εI)⁻¹ b, ε = 1e-10 of N's mean diagonal."""
    normal, rhs = _restrict(normal, rhs, columns)
    ridge = 1e-10 * float(torch.diagonal(normal).mean())
    eye = torch.eye(len(rhs), dtype=torch.float64)
    return torch.linalg.solve(normal + ridge * eye, rhs)


def share_removed(
    normal: torch.Tensor, rhs: torch.Tensor, total: float, columns: np.ndarray | None = None
) -> float:
    """Share (0-1) of the target's Hartree energy removed by its best fit on ``columns``
    (indices into :func:`hartree_normal`'s columns; all when None): 1 − E(residual)/E."""
    if total <= 0.0 or (columns is not None and len(columns) == 0):
        return 0.0
    normal, rhs = _restrict(normal, rhs, columns)
    coef = fit_coefficients(normal, rhs)
    residual = total - 2.0 * float(coef @ rhs) + float(coef @ (normal @ coef))
    return 1.0 - residual / total


def oracle_capture(sample, spec: BasisSpec, chunk: int = 2048) -> float:
    """Hartree share (%) of ``sample``'s Δρ captured by its least-squares fit in ``spec``.

    Minimizes Σ_G |Σ_a,k c_ak FT[φ_k](G) e^{−iG·R_a}/Ω − Δρ(G)|² / |G|² over real c
    (one G of each ±G pair, weighted twice). Returns 100 (1 − E_H(residual)/E_H(Δρ)).
    """
    return 100.0 * share_removed(*hartree_normal(sample, spec, chunk=chunk))


def summarize(values: list[float], ids: list[str]) -> dict:
    v = np.asarray(values)
    worst = int(np.argmin(v))
    return {
        "n": len(v),
        "captured_mean_pct": float(v.mean()),
        "captured_median_pct": float(np.median(v)),
        "captured_worst_pct": float(v[worst]),
        "worst_id": ids[worst],
    }


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.snapshot import split_snapshot
    from rhocat.data.store import Dataset

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("dataset")
    ap.add_argument("--snapshot", required=True)
    ap.add_argument("--splits", default="val,test_binary,test_ternary")
    ap.add_argument("--bases", default="small,large")
    ap.add_argument("--max-atoms", type=int, default=8, help="skip larger cells")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    ds = Dataset(args.dataset)
    snap = split_snapshot(ds, args.snapshot)
    out_path = Path(args.output)
    report = json.loads(out_path.read_text()) if out_path.is_file() else {"per_structure": {}}
    report.update(snapshot=str(args.snapshot), max_atoms=args.max_atoms)
    per = report["per_structure"]
    for basis in args.bases.split(","):
        spec = preset_basis(basis)
        report.setdefault("bases", {})[basis] = spec.to_dict()
        for split in args.splits.split(","):
            for sid in snap.get(split, []):
                row = per.setdefault(sid, {"split": split})
                if basis in row:
                    continue
                s = ds.load(sid)
                if len(s.numbers) > args.max_atoms:
                    continue
                t0 = time.perf_counter()
                row["n_atoms"] = len(s.numbers)
                row[basis] = oracle_capture(s, spec)
                row[f"{basis}_s"] = time.perf_counter() - t0
                out_path.write_text(json.dumps(report, indent=1))  # resumable per structure
    summary = {}
    for basis in args.bases.split(","):
        for split in args.splits.split(","):
            rows = [(k, r[basis]) for k, r in per.items() if r["split"] == split and basis in r]
            if rows:
                ids, vals = zip(*rows, strict=True)
                summary[f"{basis}/{split}"] = summarize(list(vals), list(ids))
    report["summary"] = summary
    out_path.write_text(json.dumps(report, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
