"""Markdown table of ``benchmarks/results_ablation.json`` (the rows of ``benchmarks/ablation.py``).

python benchmarks/ablation_table.py [benchmarks/results_ablation.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = {
    "radial": "radial floor (per-element l = 0, ridge)",
    "basis": "basis model, free embedding per Z (previous default)",
    "features": "+ element features instead of the embedding",
    "ensemble": "ensemble of 5 embedding models (mean)",
    "features-ensemble": "ensemble of 5 element-feature models (mean)",
    "features-ensemble-shrink": "+ shrinkage by the ensemble's uncertainty (c on val)",
}


def table(report: dict) -> str:
    head = ("| row | seeds | test captured mean / median / worst (%) | cells < 0 | test NMAE % "
            "(ACS) | val captured mean (%) | members alone: test mean (%) | train s | "
            "inference ms (median) |")  # fmt: skip
    lines = [head, "|" + "---|" * 9]
    for name, row in report["rows"].items():
        t, v = row["test"], row.get("val", {})
        alone = row.get("members_alone_test") or []
        alone_s = (
            f"{min(a['captured_mean_pct'] for a in alone):.0f} to "
            f"{max(a['captured_mean_pct'] for a in alone):.0f}"
            if alone
            else "–"
        )
        seeds = ",".join(map(str, row["seeds"])) or "–"
        c = row.get("shrink_c")
        base, _, budget = name.partition("@")
        label = LABELS.get(base, base) + (f" (c = {c:g})" if c else "")
        label += f", {budget} steps" if budget else ""
        lines.append(
            f"| {label} | {seeds} | {t['captured_mean_pct']:.1f} / {t['captured_median_pct']:.1f}"
            f" / {t['captured_worst_pct']:.0f} ({t['worst_id']}) | {t['negative']} of {t['n']} | "
            f"{t['nmae_pct']:.2f} ({t['nmae_acs_pct']:.2f}) | "
            f"{v.get('captured_mean_pct', float('nan')):.1f} | {alone_s} | "
            f"{row['train_s']:.0f} | {1000 * t['inference_median_s']:.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default=str(HERE / "results_ablation.json"))
    args = ap.parse_args()
    print(table(json.loads(Path(args.results).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
