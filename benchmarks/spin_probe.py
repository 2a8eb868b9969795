"""Is the chaos of Cr/Fe cells the non-magnetic protocol's? pw.x with and without spin.

On Cr and Fe cells one SCF run's iteration count moves by many iterations under changes of
the start far below any model's error, from the ACS as from a warm start, and pw.x's
mixing modes do not tame it (docs/scf-starts.md §3, §5). The benchmark's protocol holds
every cell non-magnetic (``nspin = 1``), where CrN, for one, orders magnetically. Here each
structure runs from pw.x's atomic start (``startingwfc = 'atomic'``: no random noise) under

- ``nspin = 1``, the protocol, and
- ``nspin = 2`` with ``starting_magnetization`` 0.5 on the 3d magnets (Cr, Fe, Ni) and 0
  elsewhere,

each at ``mixing_beta`` 0.4 (the protocol) and 0.4 × (1 ± 1%): a change of the path, not of
the ground state, that shows how chaotic the path is. The ground truth's other parameters
are kept. Writes JSON: per structure and setting the iterations, the final total and
absolute magnetization (Bohr magneton per cell), the energy (Ry) and pw.x's wall time (s),
and per setting a summary (:func:`summarize`). Resumable: runs already in the output file
are not made again.

    python benchmarks/spin_probe.py --ids zincblende-CrN,CsCl-CrB -o results_spin_probe.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from first_threshold import add_cell_arguments  # noqa: E402

MAGNETS = ("Cr", "Fe", "Ni")
STARTING_MAGNETIZATION = 0.5
BETAS = (0.396, 0.4, 0.404)
SPINS = (1, 2)


def spin_overrides(symbols: list[str], nspin: int, beta: float) -> dict:
    """pw.x overrides for ``nspin`` at ``mixing_beta`` ``beta``, noise-free atomic start;
    with ``nspin = 2`` a starting magnetization on each species of :data:`MAGNETS`,
    numbered as rhocat writes ATOMIC_SPECIES (order of first appearance)."""
    system: dict = {"nspin": nspin}
    if nspin == 2:
        species = list(dict.fromkeys(symbols))
        for i, s in enumerate(species, start=1):
            system[f"starting_magnetization({i})"] = STARTING_MAGNETIZATION if s in MAGNETS else 0.0
    return {"system": system, "electrons": {"mixing_beta": beta, "startingwfc": "atomic"}}


def run_cell(sample, family, work: Path, done: dict, ranks: int) -> dict:
    """{'nspin=N': {str(beta): run record}} for every setting not in ``done``."""
    from rhocat.evaluate.runner import sample_atoms
    from rhocat.qe.parse import final_magnetization
    from rhocat.qe.scf import run_scf

    atoms = sample_atoms(sample)
    out = {f"nspin={n}": dict(done.get(f"nspin={n}", {})) for n in SPINS}
    for nspin in SPINS:
        runs = out[f"nspin={nspin}"]
        for beta in BETAS:
            if str(beta) in runs:
                continue
            over = spin_overrides(atoms.get_chemical_symbols(), nspin, beta)
            res = run_scf(atoms, family=family, start="atomic", overrides=over,
                          parameters=sample.meta["parameters"], ranks=ranks,
                          workdir=work / f"s{nspin}-b{beta}")  # fmt: skip
            total, absolute = (0.0, 0.0)
            if nspin == 2:
                stdout = (Path(res.workdir) / "pw.out").read_text(errors="replace")
                total, absolute = final_magnetization(stdout)
            runs[str(beta)] = {
                "iterations": res.iterations if res.converged else None,
                "energy_ry": res.energy_ry,
                "total_magnetization": total,
                "absolute_magnetization": absolute,
                "pw_wall_s": res.pw_wall_s,
            }
            print(sample.id, nspin, beta, runs[str(beta)]["iterations"], total, absolute,
                  file=sys.stderr, flush=True)  # fmt: skip
    return out


def summarize(rows: dict) -> dict:
    """Per setting, the runs in all and those that did not converge; over the cells whose
    every run converged under both settings: the sum of the per-cell mean iterations,
    the mean and largest per-cell range (max − min over the β), pw.x's wall time in all
    (s) and, for ``nspin = 2``, the cells that end magnetic (absolute magnetization above
    0.1 Bohr magneton per cell)."""

    def ok(row):
        return all(r["iterations"] is not None for s in row.values() for r in s.values())

    cells = [r for r in rows.values() if ok(r)]
    out: dict = {"cells": len(cells), "not_converged": len(rows) - len(cells)}
    for setting in (f"nspin={n}" for n in SPINS):
        every = [r for row in rows.values() for r in row.get(setting, {}).values()]
        out[f"{setting} runs not converged"] = sum(r["iterations"] is None for r in every)
        out[f"{setting} runs"] = len(every)
        runs = [list(c[setting].values()) for c in cells]
        its = [[r["iterations"] for r in rs] for rs in runs]
        summary = {
            "iterations": round(float(sum(np.mean(i) for i in its)), 1),
            "range_mean": round(float(np.mean([np.ptp(i) for i in its])), 2) if its else None,
            "range_max": int(max(np.ptp(i) for i in its)) if its else None,
            "pw_wall_s": round(float(sum(r["pw_wall_s"] or 0.0 for rs in runs for r in rs)), 1),
        }
        if setting == "nspin=2":
            summary["magnetic_cells"] = sum(
                1 for rs in runs if max(r["absolute_magnetization"] or 0.0 for r in rs) > 0.1
            )
        out[setting] = summary
    return out


def main(argv: list[str] | None = None) -> int:
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_cell_arguments(ap, "comma-separated dataset entry ids")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    ds = Dataset(args.data)
    family = load_family(ds.manifest.family)
    out_path = Path(args.output)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {"rows": {}}
    result["betas"] = list(BETAS)
    result["starting_magnetization"] = {s: STARTING_MAGNETIZATION for s in MAGNETS}
    for i in args.ids.split(","):
        with tempfile.TemporaryDirectory(prefix="rhocat-spin-") as tmp:
            result["rows"][i] = run_cell(ds.load(i), family, Path(tmp),
                                         result["rows"].get(i, {}), args.ranks)  # fmt: skip
        result["summary"] = summarize(result["rows"])
        out_path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
