"""The summary table of a split, like Table 1 of the paper."""

from __future__ import annotations

from rhocat.split.algorithm import Split

ROWS = (
    ("train_unary", "Train (unary)"),
    ("train_binary", "Train (binary)"),
    ("train_ternary", "Train (ternary)"),
    ("val", "Val (binary)"),
    ("test_binary", "Test (binary)"),
    ("test_ternary", "Test (ternary)"),
    ("dropped", "Dropped"),
)


def summary_rows(split: Split) -> list[dict]:
    """One row per split: name, label, structures, element combinations, atoms."""
    rows = []
    for key, label in ROWS:
        if key.startswith("train_"):
            n = {"unary": 1, "binary": 2, "ternary": 3}[key.split("_")[1]]
            members = [a for a in split.assignments if a.split == "train" and len(a.elements) == n]
        else:
            members = [a for a in split.assignments if a.split == key]
        if key == "train_ternary" and not members:
            continue
        rows.append(
            {
                "split": key,
                "label": label,
                "structures": len(members),
                "combinations": len({a.elements for a in members}),
                "atoms": sum(a.n_atoms for a in members),
            }
        )
    return rows


def summary_table(split: Split) -> str:
    """Plain-text table: structures, element combinations and atoms per split."""
    rows = summary_rows(split)
    lines = [f"{'':16}{'N_structures':>14}{'N_combinations':>16}{'N_atoms':>9}"]
    for r in rows:
        lines.append(f"{r['label']:16}{r['structures']:>14}{r['combinations']:>16}{r['atoms']:>9}")
    total = sum(r["structures"] for r in rows)
    lines.append(f"{'Total':16}{total:>14}")
    return "\n".join(lines)
