"""Benchmark of the density models (radial floor, equivariant basis, pointwise probe).

Prints JSON: for each model, NMAE (%) of ρ on the test structures vs the ACS (and the ratio),
the Hartree share of Δρ captured, inference time per structure (and as a fraction of one
SCF iteration when the dataset recorded pw.x timings), training time, and peak memory.

    python benchmarks/models.py DATASET [--steps N] [--models radial,basis,pointwise]
    python benchmarks/models.py --tiny          # builds Si/C/SiC densities with pw.x (~20 s)

Test structures: splits whose name starts with 'test' (else 'val').
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch


def tiny_samples(workdir: str) -> list:
    """Si and C diamond (+ strained/rattled copies) to train, SiC (unseen pair) to test."""
    from ase.build import bulk

    from rhocat.data.sample import BOHR_PER_ANGSTROM, DensitySample
    from rhocat.qe.acs import acs_rho_g
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.scf import run_scf

    rng = np.random.default_rng(0)
    structs = []
    for sym, a in (("Si", 5.43), ("C", 3.57)):
        for k, scale in enumerate((1.0, 0.97, 1.03)):
            at = bulk(sym, "diamond", a=a * scale)
            if k:
                at.positions += rng.normal(scale=0.04, size=at.positions.shape)
            structs.append((f"{sym}-{k}", at, "train" if k != 2 else "val"))
    structs.append(("SiC", bulk("SiC", "zincblende", a=4.36), "test"))
    sic = bulk("SiC", "zincblende", a=4.36 * 1.02)
    sic.positions += rng.normal(scale=0.04, size=sic.positions.shape)
    structs.append(("SiC-r", sic, "test"))
    fam = load_family("debian-pbe")
    out = []
    for ident, at, split in structs:
        tiny = {"system": {"ecutwfc": 25.0, "ecutrho": 100.0}, "k_points": [4, 4, 4]}
        res = run_scf(at, overrides=tiny, ranks=1, workdir=os.path.join(workdir, ident))
        per_it = (res.pw_wall_s or res.wall_s) / max(res.iterations, 1)
        d = read_charge_density(os.path.join(res.save_dir, "charge-density.dat"))
        out.append(
            DensitySample(
                id=ident, numbers=at.numbers.copy(),
                positions_bohr=at.positions * BOHR_PER_ANGSTROM,
                cell_bohr=np.array(at.cell) * BOHR_PER_ANGSTROM, miller=d.miller, rho_g=d.rho_g,
                rho_acs_g=acs_rho_g(at, fam, d.miller), fft_grid=tuple(res.fft_grid), split=split,
                meta={"pseudos": res.pseudos, "qe_version": res.qe_version,
                      "scf_s_per_iteration": per_it},
            )
        )  # fmt: skip
    return out


def _iteration_s(sample) -> float | None:
    meta = sample.meta or {}
    if "scf_s_per_iteration" in meta:
        return float(meta["scf_s_per_iteration"])
    t = (meta.get("timings") or {}).get("scf")
    n = len(meta.get("scf_accuracy_ry") or [])
    return float(t) / n if t and n else None


def main(argv: list[str] | None = None) -> int:
    from rhocat.models import predict_delta_rho_g
    from rhocat.train import density_metrics, train_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("dataset", nargs="?", help="dataset directory")
    ap.add_argument(
        "--tiny", action="store_true", help="build a tiny Si/C/SiC set with pw.x instead"
    )
    ap.add_argument("--workdir", default="/tmp/rhocat-bench-models")
    ap.add_argument("--steps", type=int, default=300, help="steps of the learned models [300]")
    ap.add_argument("--models", default="radial,basis,pointwise")
    ap.add_argument("--config", default="small")
    ap.add_argument(
        "--loss", default=None, help="loss of the basis model (hartree, l2_g, l2_real, l1_real)"
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("RHOCAT_THREADS", "2")))
    if args.tiny or not args.dataset:
        samples = tiny_samples(args.workdir)
    else:
        from rhocat.data.store import Dataset

        ds = Dataset(args.dataset)
        samples = [ds.load(i) for i in ds.ids()]
    test = [s for s in samples if str(s.split).startswith("test")] or [
        s for s in samples if s.split == "val"
    ]
    data = [s for s in samples if not str(s.split).startswith("test")]
    report: dict = {
        "n_train": sum(s.split == "train" for s in data),
        "n_test": len(test),
        "models": {},
    }
    for kind in args.models.split(","):
        t0 = time.perf_counter()
        res = train_model(data, kind, args.config, steps=args.steps, progress=False,
                          loss=args.loss if kind == "basis" else None)  # fmt: skip
        train_s = time.perf_counter() - t0
        rows, times, fracs = [], [], []
        for s in test:
            t = time.perf_counter()
            pred = predict_delta_rho_g(
                res.model,
                s.numbers,
                s.positions_bohr,
                s.cell_bohr,
                s.miller,
                fft_grid=tuple(s.fft_grid),
            )
            dt = time.perf_counter() - t
            times.append(dt)
            it = _iteration_s(s)
            if it:
                fracs.append(dt / it)
            rows.append({"id": s.id, **density_metrics(s, pred)})
        nmae = float(np.mean([r["nmae_pct"] for r in rows]))
        nmae_acs = float(np.mean([r["nmae_acs_pct"] for r in rows]))
        report["models"][kind] = {
            "test_nmae_pct": nmae,
            "test_nmae_acs_pct": nmae_acs,
            "acs_over_model_nmae": nmae_acs / nmae if nmae > 0 else None,
            "test_captured_hartree_pct": float(np.mean([r["captured_pct"] for r in rows])),
            "inference_s_per_structure": float(np.mean(times)),
            "inference_fraction_of_scf_iteration": float(np.mean(fracs)) if fracs else None,
            "train_s": train_s,
            "val": res.val,
            "per_structure": rows,
        }
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
