"""Validation capture along training: ensembles of one recipe with one change, side by side.

Reads each member's metrics CSV (``features-s{seed}-{steps}.metrics.csv`` in a run's
workdir, as ``ablation.py --rows features@STEPS`` leaves them) and reports the validation
split's Hartree share of Δρ captured (%, the ``val_captured_pct`` column) at every logged
validation step, per member and as the mean over the seeds. A run still training (or
stopped, to be resumed) counts as far as its CSVs go; ``common_step`` is the last step
every member of every run has reached, where the runs compare seed by seed (the same
seeds, the same learning-rate schedule over ``--steps``). An interim look, not a rule's
figure: the rules of docs/ablation.md judge the finished ensemble on the 206 cells.

    python benchmarks/training_curves.py --run radial=W1 --run three-body=W2 \\
        --steps 16000 -o benchmarks/results_training_curves.json [--plot curves.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rhocat.train.loop import read_metrics_csv


def member_curve(csv_path: Path) -> dict[int, float]:
    """step -> validation captured (%) of one member's metrics CSV ({} when absent)."""
    return {
        int(row["step"]): float(row["val_captured_pct"])
        for row in read_metrics_csv(csv_path)
        if row.get("val_captured_pct")
    }


def run_curves(workdir: Path, seeds: list[int], steps: int) -> dict[int, dict[int, float]]:
    """seed -> (step -> captured %) for the members of one run."""
    return {seed: member_curve(workdir / f"features-s{seed}-{steps}.metrics.csv") for seed in seeds}


def summary(runs: dict[str, dict[int, dict[int, float]]]) -> dict:
    """Per run: the steps every member reached, each member's curve and the seeds' mean;
    and the runs compared at the last step all of them reached."""
    out: dict = {"runs": {}}
    shared = None
    for label, members in runs.items():
        steps = sorted(set.intersection(*(set(c) for c in members.values())))
        shared = set(steps) if shared is None else shared & set(steps)
        out["runs"][label] = {
            "steps": steps,
            "members": {str(s): [c[k] for k in steps] for s, c in members.items()},
            "mean": [sum(c[k] for c in members.values()) / len(members) for k in steps],
        }
    common = max(shared) if shared else None
    out["common_step"] = common
    if common is not None:
        out["at_common_step"] = {
            label: {
                "mean": sum(c[common] for c in members.values()) / len(members),
                "members": {str(s): c[common] for s, c in members.items()},
            }
            for label, members in runs.items()
        }
    return out


def plot(result: dict, path: Path, ymin: float = 50.0) -> None:
    """Each run's mean curve (line) and members (faint), validation captured against step;
    the axis starts at ``ymin`` % (the first few hundred steps swing far below)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for k, (label, run) in enumerate(result["runs"].items()):
        color = f"C{k}"
        for curve in run["members"].values():
            ax.plot(run["steps"], curve, color=color, alpha=0.25, lw=0.8)
        ax.plot(run["steps"], run["mean"], color=color, lw=2, label=f"{label} (mean of seeds)")
    ax.set_xlabel("training step")
    ax.set_ylabel("validation Δρ captured (Hartree share, %)")
    ax.set_ylim(ymin, 100.0)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="append", required=True, help="LABEL=WORKDIR (repeat)")
    ap.add_argument("--steps", type=int, required=True, help="the members' training steps")
    ap.add_argument("--seeds", default="0-4", help="a range, e.g. 0-4")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--plot", help="also write the curves as a PNG")
    ap.add_argument("--ymin", type=float, default=50.0, help="the plot's lowest %% shown")
    args = ap.parse_args(argv)
    runs = {}
    for spec in args.run:
        label, sep, workdir = spec.partition("=")
        if not sep or not label or not Path(workdir).is_dir():
            ap.error(f"--run wants LABEL=WORKDIR with an existing folder, not {spec!r}")
        runs[label] = run_curves(Path(workdir), _seeds(args.seeds), args.steps)
        empty = [s for s, c in runs[label].items() if not c]
        if empty:
            ap.error(f"{label}: no validation rows for seeds {empty} in {workdir}")
    result = {"steps": args.steps, "seeds": args.seeds, **summary(runs)}
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    if args.plot:
        plot(result, Path(args.plot), args.ymin)
    json.dump(result.get("at_common_step", {}), sys.stdout, indent=1)
    print(f"\ncommon step: {result['common_step']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
