"""Convert a dataset to another entry storage (``rhocat data pack SRC DST``).

Every entry (failed runs too) is read from ``SRC`` and written into a new
dataset ``DST`` with the same manifest except ``storage``, same ids and
splits; ``checksums.sha256`` and the index are written as for a build. Each
packed ``ok`` entry is loaded back and compared with the source before the
next one (Miller list identical, ρ within float32 precision, ρ_ACS
recomputed from the family within 1e-10), so a family whose files changed
since the build is caught. ``DST`` is assembled in a temporary sibling
folder and renamed into place at the end: it never exists half-written.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rhocat.data.store import ENTRIES, Dataset
from rhocat.errors import InputError

#: relative L2 differences allowed between a packed entry and its source
RHO_TOLERANCE = 1e-6  # float32 storage of ρ
ACS_TOLERANCE = 1e-10  # recomputed ACS


@dataclass
class PackReport:
    """Outcome of :func:`pack_dataset`: entry counts and folder sizes (bytes of entry files)."""

    entries: int = 0
    ok: int = 0
    failed_runs: int = 0
    bytes_before: int = 0
    bytes_after: int = 0


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b)) / scale if scale else float(np.linalg.norm(a))


def _verify(entry_id: str, packed, source) -> None:
    if not np.array_equal(packed.miller, source.miller):
        raise InputError(f"{entry_id}: the packed G list differs from the source's")
    rho = _rel(packed.rho_g, source.rho_g)
    if rho > RHO_TOLERANCE:
        raise InputError(f"{entry_id}: packed rho differs from the source by {rho:.2e} (L2)")
    acs = _rel(packed.rho_acs_g, source.rho_acs_g)
    if acs > ACS_TOLERANCE:
        raise InputError(
            f"{entry_id}: the recomputed ACS differs from the stored one by {acs:.2e} (L2): "
            "were the pseudopotential files changed since the dataset was built?"
        )


def pack_dataset(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    storage: str = "compact",
    progress: Callable[[int], None] | None = None,
) -> PackReport:
    """Write every entry of dataset ``src`` into a new dataset ``dst`` with ``storage``.

    Raises :class:`InputError` when ``dst`` exists, ``src`` is not a dataset,
    or a packed entry does not load back like its source.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise InputError(f"{dst}: already exists; pack writes a new dataset")
    if not dst.parent.is_dir():
        raise InputError(f"{dst.parent}: no such directory")
    tmp = dst.with_name(f".{dst.name}.pack-{os.getpid()}")
    report = PackReport()
    try:
        with Dataset(src) as source:
            manifest = replace(source.manifest, storage=storage)
            with Dataset.create(tmp, manifest) as target:
                for row in source.rows():
                    rec = source.record(row.id)
                    target.add(rec)
                    report.entries += 1
                    if rec.status == "ok":
                        _verify(row.id, target.load(row.id), source.load(row.id))
                        report.ok += 1
                    else:
                        report.failed_runs += 1
                    if progress:
                        progress(1)
        report.bytes_before = _entry_bytes(src)
        report.bytes_after = _entry_bytes(tmp)
        os.rename(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _entry_bytes(path: Path) -> int:
    return sum(e.stat().st_size for e in os.scandir(path / ENTRIES) if e.name.endswith(".h5"))
