"""The charge a model's charge-equilibration head moves between the atoms of given cells.

For each structure id and each member of the ensemble MODEL (or the one model) with a
:class:`rhocat.models.equivariant.ChargeEquilibration` head, the electrons q_i (e) the head
puts on each atom (Σ_i q_i = 0 per cell), and their mean over the members; printed and
written as JSON. Members without the head are reported as such.

    python benchmarks/charge_transfer.py benchmarks/checkpoints/finetune-charge-eq-3000.pt \\
        benchmarks/dataset/dataset --ids zincblende-NiI,zincblende-RhI \\
        -o benchmarks/results_charge_transfer_finetune_charge_eq.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch


def head_charges(member, sample) -> list[float] | None:
    """q_i (e) the head of ``member`` moves onto each atom of ``sample``; None without a head."""
    head = getattr(member, "charge_eq", None)
    if head is None:
        return None
    seen: dict = {}

    def keep(_module, inputs, _output):
        seen["scalars"] = inputs[1]

    hook = head.register_forward_hook(keep)
    try:
        with torch.no_grad():
            member.delta_rho_g(
                sample.numbers, sample.positions_bohr, sample.cell_bohr, np.zeros((1, 3)) + 0.5
            )
            q = head.charges(seen["scalars"])
    finally:
        hook.remove()
    return [float(x) for x in q]


def members_of(model) -> list:
    """The members of an ensemble, or [model]."""
    return (
        [model.member(k) for k in range(len(model.members))]
        if model.kind == "ensemble"
        else [model]
    )


def main(argv: list[str] | None = None) -> int:
    from ase.data import chemical_symbols

    from rhocat.data.store import Dataset
    from rhocat.train import load_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model")
    ap.add_argument("dataset")
    ap.add_argument("--ids", required=True, help="structure ids, comma-separated")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    members = members_of(load_model(args.model))
    ds = Dataset(args.dataset)
    out: dict = {"model": args.model, "structures": {}}
    for sid in [i for i in args.ids.split(",") if i]:
        smp = ds.load(sid)
        per = [head_charges(m, smp) for m in members]
        row = {"symbols": [chemical_symbols[int(z)] for z in smp.numbers], "members": per}
        if all(q is not None for q in per):
            row["mean_e"] = [float(x) for x in np.mean(per, axis=0)]
        out["structures"][sid] = row
        print(sid, row["symbols"], row.get("mean_e", "no head"))
    Path(args.output).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
