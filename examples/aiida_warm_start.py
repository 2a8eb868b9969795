"""AiiDA: a PwBaseWorkChain that starts pw.x from rhocat's predicted density.

    python examples/aiida_warm_start.py [--ecutwfc 20] [--ecutrho 160]

Uses your default AiiDA profile (or creates a presto-style `rhocat` profile
when there is none), a `localhost` computer with pw.x from PATH, and rhocat's
`debian-pbe` pseudopotential family as an aiida-pseudo group. On a cluster,
load your own code (`orm.load_code("pw@mycluster")`) and family
(`orm.load_group("SSSP/1.3/PBE/efficiency")`) instead: the warm start is the
one line marked below. Prints the energies and iteration counts of the
atomic start and of the warm start.
"""

from __future__ import annotations

import argparse

from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory
from ase.build import bulk

from rhocat.predict.aiida import warm_start
from rhocat.qe import aiida as ra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ecutwfc", type=float, default=20.0, help="Ry")
    parser.add_argument("--ecutrho", type=float, default=160.0, help="Ry")
    parser.add_argument("--kpoints-distance", type=float, default=0.6, help="1/Å")
    args = parser.parse_args()

    ra.ensure_profile()
    code = ra.ensure_code("pw.x", ra.ensure_computer("localhost"))
    family = ra.ensure_pseudo_family("debian-pbe")
    structure = orm.StructureData(ase=bulk("Si", "diamond", a=5.43))
    PwBaseWorkChain = WorkflowFactory("quantumespresso.pw.base")  # noqa: N806

    def builder():
        b = PwBaseWorkChain.get_builder_from_protocol(
            code,
            structure,
            protocol="fast",
            overrides={
                "pseudo_family": family.label,
                "kpoints_distance": args.kpoints_distance,
                "pw": {
                    "parameters": {"SYSTEM": {"ecutwfc": args.ecutwfc, "ecutrho": args.ecutrho}}
                },
            },
        )
        b.pw.metadata.options.resources = {"num_machines": 1, "num_mpiprocs_per_machine": 1}
        b.pw.metadata.options.withmpi = False
        return b

    energies = {}
    for label in ("atomic", "rhocat"):
        b = builder()
        if label == "rhocat":
            b = warm_start(b)  # <- the one line that makes it a warm start
        _, node = run_get_node(b)
        out = node.outputs.output_parameters.get_dict()
        energies[label] = out["energy"]
        steps = out["convergence_info"]["scf_conv"]["n_scf_steps"]
        print(
            f"{label} start: {node.process_label}<{node.pk}> finished_ok={node.is_finished_ok} "
            f"energy={out['energy']:.8f} eV scf_iterations={steps}"
        )
    diff = abs(energies["rhocat"] - energies["atomic"]) / abs(energies["atomic"])
    print(f"relative energy difference: {diff:.1e}")


if __name__ == "__main__":
    main()
