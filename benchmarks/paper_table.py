"""Markdown table of ``benchmarks/results_paper.json`` (pooled test figures per model).

python benchmarks/paper_table.py [benchmarks/results_paper.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ("radial", "basis", "default-600", "default-304", "default-3000", "default", "pointwise")


def _f(x, fmt="{:.1f}"):
    return "–" if x is None else fmt.format(x)


def _order(name: str) -> tuple[int, str]:
    base = name.split("@")[0]
    return (ORDER.index(base) if base in ORDER else len(ORDER), name)


def _threshold(entry: dict) -> str:
    """The warm runs' first diagonalization threshold (entries before it was recorded: 1e-5)."""
    values = entry.get("warm_diago_thr_init")
    if not values:
        return "1e-5 (pw.x's)"
    return ", ".join("1e-5 (pw.x's)" if v is None else f"{v:g}" for v in values)


def table(report: dict) -> str:
    models = sorted(report["models"], key=_order)
    pooled = {m: report["models"][m]["splits"].get("test (all)", {}) for m in models}
    split = {m: report["models"][m]["splits"] for m in models}
    rows = [
        ("test cells (binary + ternary)", lambda m: f"{pooled[m].get('n')}"),
        ("warm start's first diagonalization threshold",
         lambda m: _threshold(report["models"][m])),
        ("positive s-AUC, binary / ternary", lambda m: " / ".join(
            _f(split[m].get(s, {}).get("positive_s_auc_percent"), "{:.0f}%")
            for s in ("test_binary", "test_ternary"))),
        ("mean s-AUC (median)", lambda m: f"{_f(pooled[m]['s_auc'].get('mean'), '{:.2f}')} "
                                          f"({_f(pooled[m]['s_auc'].get('median'), '{:.2f}')})"),
        ("SCF iterations saved, mean (median)",
         lambda m: f"{_f(pooled[m]['iterations_saved_percent'].get('mean'))}% "
                   f"({_f(pooled[m]['iterations_saved_percent'].get('median'))}%)"),
        ("cells needing more iterations than from the ACS",
         lambda m: f"{pooled[m].get('more_iterations_than_acs')}"),
        ("net wall-clock saving, inference included (pooled)",
         lambda m: f"{_f(pooled[m].get('net_wall_clock_saving_percent_pooled'))}%"),
        ("inference / one SCF iteration (median)",
         lambda m: f"{_f(pooled[m]['inference_over_one_scf_iteration_percent'].get('median'))}%"),
        ("max relative converged-energy difference",
         lambda m: _f(pooled[m]['energy_relative_difference'].get('max'), "{:.1e}")),
        ("density NMAE, model (ACS)",
         lambda m: f"{_f(pooled[m]['nmae_percent_model'].get('mean'), '{:.2f}')}% "
                   f"({_f(pooled[m]['nmae_percent_acs'].get('mean'), '{:.2f}')}%)"),
    ]  # fmt: skip
    out = ["| figure | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    out += [f"| {label} | " + " | ".join(fn(m) for m in models) + " |" for label, fn in rows]
    return "\n".join(out)


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default=str(HERE / "results_paper.json"))
    args = ap.parse_args()
    print(table(json.loads(Path(args.results).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
