"""Verification and summary of a dataset (``rhocat data check|summary``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rhocat.data.checksums import CHECKSUMS, read_checksums
from rhocat.data.entry import file_sha256, read_entry
from rhocat.data.store import ENTRIES, INDEX, Dataset, acs_of_record
from rhocat.errors import RhocatError

#: |ρ(G=0)·Ω − N_el| allowed, electrons.
ELECTRON_TOLERANCE = 1e-6


@dataclass
class CheckReport:
    """Outcome of :func:`check_dataset`: ``problems`` maps entry id (or file) to what is wrong."""

    checked: int = 0
    ok: int = 0
    failed_runs: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


def check_entry(
    path: str | os.PathLike,
    checksum: str | None,
    family=None,
    sha256: str | None = None,
) -> list[str]:
    """Problems found in one entry file (empty list: fine).

    ``checksum``: the index's sha256 of the file; ``sha256``: the file's
    actual sha256 when already computed; ``family``: the dataset's
    pseudopotential family, needed to recompute the ACS of compact entries.
    """
    path = Path(path)
    if not path.exists():
        return ["file is missing"]
    problems = []
    if checksum is not None and (sha256 or file_sha256(path)) != checksum:
        problems.append("checksum mismatch (file changed or corrupted since it was written)")
    try:
        rec = read_entry(path)
        if rec.rho_g is not None and rec.rho_acs_g is None and family is not None:
            rec.rho_acs_g = acs_of_record(rec, family)
    except RhocatError as exc:
        return problems + [str(exc)]
    if rec.status != "ok":
        return problems
    problems += _check_arrays(rec)
    return problems


def _check_arrays(rec) -> list[str]:
    out = []
    n = None if rec.numbers is None else len(rec.numbers)
    if n is None or rec.positions_bohr is None or rec.cell_bohr is None:
        return ["structure missing"]
    if rec.positions_bohr.shape != (n, 3) or rec.cell_bohr.shape != (3, 3):
        out.append(f"structure shapes {rec.positions_bohr.shape}, {rec.cell_bohr.shape}")
    if rec.miller is None or rec.rho_g is None or rec.rho_acs_g is None:
        return out + ["density arrays missing"]
    ngm = rec.miller.shape[0]
    if rec.miller.ndim != 2 or rec.miller.shape[1] != 3:
        out.append(f"miller shape {rec.miller.shape}")
    if rec.rho_g.ndim != 2 or rec.rho_g.shape[1] != ngm or rec.rho_g.shape[0] not in (1, 2):
        out.append(f"rho_g shape {rec.rho_g.shape} does not match {ngm} G vectors")
        return out
    if rec.rho_acs_g.shape != (ngm,):
        out.append(f"rho_acs_g shape {rec.rho_acs_g.shape} does not match {ngm} G vectors")
    if not (np.all(np.isfinite(rec.rho_g)) and np.all(np.isfinite(rec.rho_acs_g))):
        out.append("non-finite density values")
    grid = rec.meta.get("fft_grid")
    if not grid or len(grid) != 3:
        out.append("FFT grid missing")
    elif np.any(np.abs(rec.miller).max(axis=0) * 2 >= np.asarray(grid) + 1):
        out.append(f"Miller indices exceed the FFT grid {grid}")
    g0 = np.flatnonzero(np.all(rec.miller == 0, axis=1))
    if len(g0) != 1:
        out.append("G = 0 is not in the G list exactly once")
        return out
    volume = abs(np.linalg.det(rec.cell_bohr))
    n_el = rec.meta.get("n_electrons")
    charge = rec.rho_g[0, g0[0]].real * volume
    if n_el is None:
        out.append("number of electrons missing")
    elif abs(charge - n_el) > ELECTRON_TOLERANCE:
        out.append(f"rho(G=0)*volume = {charge:.9f} but n_electrons = {n_el}")
    return out


def check_dataset(
    path: str | os.PathLike, progress: Callable[[int], None] | None = None
) -> CheckReport:
    """Verify every indexed entry (checksum, shapes, electron count), the index
    and ``checksums.sha256`` (every entry file has a line and matches it, every
    line has a file)."""
    report = CheckReport()
    with Dataset(path, repair_index=True) as ds:
        if ds.index_rebuilt:
            report.notes.append(f"{INDEX} was not a readable index: rebuilt from the entries")
        rows = ds.rows()
        indexed = set()
        listed = read_checksums(ds.path)
        if listed is None:
            report.problems[CHECKSUMS] = [
                f"{CHECKSUMS} is missing: entry files cannot be verified on their own "
                "(`rhocat dft run` into the dataset writes it)"
            ]
            listed = ({}, [])
        elif listed[1]:
            report.problems[CHECKSUMS] = [f"malformed {b}" for b in listed[1]]
        lines = listed[0]
        family = _family_or_none(ds, report)
        for row in rows:
            indexed.add(row.file)
            entry_path = ds.entries_dir / row.file
            sha = file_sha256(entry_path) if entry_path.is_file() else None
            problems = check_entry(entry_path, row.checksum, family=family, sha256=sha)
            if sha is not None and row.file not in lines:
                problems.append(f"no line for {ENTRIES}/{row.file} in {CHECKSUMS}")
            elif sha is not None and lines[row.file] != sha:
                problems.append(
                    f"sha256 {sha[:12]}... does not match {CHECKSUMS} ({lines[row.file][:12]}...): "
                    "the file changed or is corrupted"
                )
            report.checked += 1
            if problems:
                report.problems[row.id] = problems
            elif row.status == "ok":
                report.ok += 1
            else:
                report.failed_runs += 1
            if progress:
                progress(1)
        for entry in sorted(os.listdir(ds.entries_dir)):
            if entry.startswith(".tmp-"):
                report.notes.append(f"{entry}: temporary file of an interrupted write")
            elif entry.endswith(".h5") and entry not in indexed:
                report.notes.append(
                    f"{entry}: not in the index (a run was interrupted; `rhocat dft run` "
                    "with the same arguments indexes it)"
                )
                if entry not in lines:  # killed between the rename and the checksum line
                    report.notes.append(
                        f"{entry}: no line in {CHECKSUMS} yet (the same run appends it)"
                    )
                elif file_sha256(ds.entries_dir / entry) != lines[entry]:
                    report.problems.setdefault(entry, []).append(
                        f"sha256 does not match {CHECKSUMS}: the file changed or is corrupted"
                    )
        for name in sorted(set(lines) - set(os.listdir(ds.entries_dir))):
            report.problems.setdefault(name, []).append(
                f"listed in {CHECKSUMS} but {ENTRIES}/{name} is missing"
            )
    return report


def _family_or_none(ds: Dataset, report: CheckReport):
    """The dataset's family when it has compact entries (their ACS is recomputed)."""
    if ds.manifest.storage != "compact":
        return None
    try:
        return ds.family
    except RhocatError as exc:
        report.problems["manifest.json"] = [f"family {ds.manifest.family!r}: {exc}"]
        return None


def summarize(path: str | os.PathLike) -> list[dict]:
    """One dict per split (and a total): structures, ok, failed, grid points, medians."""
    with Dataset(path) as ds:
        rows = ds.rows()
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(r.split, []).append(r)
    table = [_summary_row(name, groups[name]) for name in sorted(groups)]
    if len(groups) != 1:
        table.append(_summary_row("total", rows))
    return table


def _summary_row(name: str, rows: list) -> dict:
    ok = [r for r in rows if r.status == "ok"]

    def median(values: list) -> float | None:
        values = [v for v in values if v is not None]
        return float(np.median(values)) if values else None

    return {
        "split": name,
        "structures": len(rows),
        "ok": len(ok),
        "failed": len(rows) - len(ok),
        "grid_points": int(sum(r.grid_points for r in ok)),
        "median_iterations": median([r.n_iterations for r in ok]),
        "median_scf_s": median([r.scf_s for r in ok]),
    }


def format_summary(table: list[dict]) -> str:
    """The summary as a plain-text table."""
    head = ["split", "structures", "ok", "failed", "grid points", "median iter", "median SCF s"]
    lines = []
    for r in table:
        it = "-" if r["median_iterations"] is None else f"{r['median_iterations']:g}"
        t = "-" if r["median_scf_s"] is None else f"{r['median_scf_s']:.2f}"
        lines.append(
            [r["split"], r["structures"], r["ok"], r["failed"], f"{r['grid_points']:,}", it, t]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*head)] + [fmt.format(*map(str, line)) for line in lines])


#: a structure outside ``train`` is covered when each of its elements appears in
#: at least this many training structures (the issue's requirement for test sets)
MIN_TRAIN_STRUCTURES = 10


def coverage(
    path: str | os.PathLike, min_train: int = MIN_TRAIN_STRUCTURES, train: str = "train"
) -> dict:
    """Element and element-pair coverage of the converged (``ok``) entries.

    Returns a dict:

    - ``splits``: the split names, ``train`` first.
    - ``elements``: element -> {split: ok structures containing it, ``total``}.
    - ``pairs``: ``"A-B"`` (alphabetical) -> {split: ok structures containing both
      A and B, ``total``}, for every pair that occurs together in some structure.
    - ``outside_train``: split -> {``structures``, ``covered`` (structures whose
      elements all appear in ≥ ``min_train`` training structures), ``not_covered``:
      [{``id``, ``short``: {element: training structures}}]} for every split but ``train``.
    - ``min_train``.
    """
    with Dataset(path) as ds:
        rows = ds.rows(status="ok")
    splits = sorted({r.split for r in rows}, key=lambda s: (s != train, s))
    elements: dict[str, dict[str, int]] = {}
    pairs: dict[str, dict[str, int]] = {}
    for r in rows:
        els = sorted(set(r.element_list))
        for el in els:
            counts = elements.setdefault(el, dict.fromkeys([*splits, "total"], 0))
            counts[r.split] += 1
            counts["total"] += 1
        for i, a in enumerate(els):
            for b in els[i + 1 :]:
                counts = pairs.setdefault(f"{a}-{b}", dict.fromkeys([*splits, "total"], 0))
                counts[r.split] += 1
                counts["total"] += 1
    in_train = {el: c.get(train, 0) for el, c in elements.items()}
    outside: dict[str, dict] = {}
    for r in rows:
        if r.split == train:
            continue
        entry = outside.setdefault(r.split, {"structures": 0, "covered": 0, "not_covered": []})
        entry["structures"] += 1
        short = {el: in_train[el] for el in sorted(set(r.element_list)) if in_train[el] < min_train}
        if short:
            entry["not_covered"].append({"id": r.id, "short": short})
        else:
            entry["covered"] += 1
    return {
        "splits": splits,
        "elements": dict(sorted(elements.items())),
        "pairs": dict(sorted(pairs.items())),
        "outside_train": {s: outside[s] for s in splits if s in outside},
        "min_train": min_train,
    }


def _table(head: list[str], lines: list[list]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*head)] + [fmt.format(*map(str, line)) for line in lines]


def format_coverage(cov: dict, max_listed: int = 20) -> str:
    """The coverage of :func:`coverage` as plain-text tables."""
    splits = cov["splits"]
    out = ["Elements: ok structures containing each element"]
    out += _table(
        ["element", *splits, "total"],
        [[el, *(c[s] for s in splits), c["total"]] for el, c in cov["elements"].items()],
    )
    out += ["", "Element pairs: ok structures containing both elements"]
    out += _table(
        ["pair", *splits, "total"],
        [[p, *(c[s] for s in splits), c["total"]] for p, c in cov["pairs"].items()],
    )
    n = cov["min_train"]
    out += ["", f"Outside train: structures whose elements all appear in >= {n} train structures"]
    outside = cov["outside_train"]
    out += _table(
        ["split", "structures", "covered", "not covered"],
        [[s, o["structures"], o["covered"], len(o["not_covered"])] for s, o in outside.items()],
    )
    for s, o in outside.items():
        for item in o["not_covered"][:max_listed]:
            short = ", ".join(f"{el} in {k}" for el, k in item["short"].items())
            out.append(f"  {s}: {item['id']} not covered ({short} train structures)")
        if len(o["not_covered"]) > max_listed:
            out.append(f"  {s}: ... and {len(o['not_covered']) - max_listed} more")
    return "\n".join(out)
