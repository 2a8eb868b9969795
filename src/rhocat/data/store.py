"""A density dataset on disk: ``manifest.json`` + ``index.sqlite`` + ``entries/*.h5``.

::

    data/
      manifest.json      settings shared by every entry (protocol, family, relax, storage, ...)
      checksums.sha256   sha256sum-format line per entry write (the last line per file wins)
      .gitignore         keeps the index, scratch and lock files out of git
      index.sqlite       one row per entry: split, formula, status, timings, checksum
                         (a cache: rebuilt from the entry files when missing)
      entries/<id>.h5    one HDF5 file per structure (see rhocat.data.entry)
      work/              scratch folders of runs in flight (safe to delete)

The folder without ``index.sqlite`` and ``work/`` is the whole dataset: it can be
committed to git as is (``.gitignore`` is written at creation).

Entry files are written atomically and are the ground truth; the index is
updated after each file and :meth:`Dataset.reconcile` repairs it after a crash
(a file without a row gets its row, a row without a file is dropped, stale
temporary files and scratch folders are removed).

Training reads only :meth:`Dataset.ids` and :meth:`Dataset.load`;
:meth:`Dataset.iter_samples` and :meth:`Dataset.iter_grid_points` stream
structures or random grid points without loading the dataset into memory.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rhocat.data.checksums import CHECKSUMS, append_checksums, read_checksums, write_checksums
from rhocat.data.entry import EntryRecord, entry_filename, file_sha256, read_attrs, read_entry
from rhocat.data.entry import write_entry as _write_entry
from rhocat.data.grid import expand_gamma, sample_grid_points
from rhocat.data.index import Index, IndexRow
from rhocat.data.manifest import MANIFEST_NAME, Manifest, read_manifest, write_manifest
from rhocat.data.sample import DensitySample
from rhocat.errors import InputError
from rhocat.fileio import atomic_write_text

ENTRIES = "entries"
INDEX = "index.sqlite"
WORK = "work"
BOHR_PER_ANGSTROM = 1.0 / 0.529177210903  # the constant entries were written with
GITIGNORE = """# rhocat dataset: the index is a cache rebuilt from entries/ (rhocat.data.store)
index.sqlite
index.sqlite-journal
index.sqlite-wal
index.sqlite-shm
work/
.lock
.tmp-*
entries/.tmp-*
.*.tmp
"""


def row_from_attrs(attrs: dict, file: str, checksum: str) -> IndexRow:
    """Index row of an entry from :func:`rhocat.data.entry.read_attrs` output."""
    meta = attrs.get("meta", {})
    grid = meta.get("fft_grid") or [0, 0, 0]
    timings = meta.get("timings") or {}
    elements = attrs.get("elements", "")
    return IndexRow(
        id=attrs["id"],
        split=attrs.get("split", ""),
        formula=attrs.get("formula", ""),
        elements=f",{elements}," if elements else ",",
        n_atoms=int(attrs.get("n_atoms", 0)),
        status=attrs["status"],
        reason=attrs.get("reason", ""),
        n_iterations=meta.get("iterations"),
        scf_s=timings.get("scf_s"),
        total_s=timings.get("total_s"),
        grid_points=int(np.prod(grid)) if attrs["status"] == "ok" else 0,
        ngm=int(attrs.get("ngm", 0)),
        nspin=int(attrs.get("nspin", 0)),
        file=file,
        checksum=checksum,
        input_hash=meta.get("input_hash", ""),
    )


def write_entry_file(
    dataset_dir: str | os.PathLike, record: EntryRecord, storage: str | None = None
) -> IndexRow:
    """Write one entry file atomically into a dataset and return its index row.

    ``storage`` (``"full"``/``"compact"``) defaults to the dataset manifest's.
    The file's sha256 is appended to ``checksums.sha256``. Safe to call from a
    worker process; the caller adds the row to the index
    (:meth:`Dataset.add_rows`) afterwards.
    """
    if storage is None:
        storage = read_manifest(dataset_dir).storage
    path, checksum = _write_entry(Path(dataset_dir) / ENTRIES, record, storage=storage)
    append_checksums(dataset_dir, {path.name: checksum})
    return row_from_attrs(read_attrs(path), path.name, checksum)


def acs_of_record(rec: EntryRecord, family) -> np.ndarray:
    """ρ_ACS(G) (e/bohr³) of an entry on its own G list, as the build computed it.

    Args:
        rec: an ``ok`` entry with structure and Miller list.
        family: the dataset's pseudopotential family (name, directory or
            :class:`rhocat.qe.pseudo.PseudoFamily`). The md5 of each element's
            file must match the one stored in the entry's ``pseudos``.
    """
    from ase import Atoms

    from rhocat.qe.acs import acs_rho_g
    from rhocat.qe.pseudo import load_family

    family = load_family(family)
    for symbol, stored in (rec.meta.get("pseudos") or {}).items():
        md5 = stored.get("md5") if isinstance(stored, dict) else None
        if md5 and symbol in family and family[symbol].md5 != md5:
            raise InputError(
                f"{rec.id}: the pseudopotential of {symbol} in family {family.name!r} "
                f"(md5 {family[symbol].md5}) is not the one the entry was computed with "
                f"(md5 {md5}): its ACS cannot be recomputed"
            )
    atoms = Atoms(
        numbers=np.asarray(rec.numbers),
        positions=np.asarray(rec.positions_bohr) / BOHR_PER_ANGSTROM,
        cell=np.asarray(rec.cell_bohr) / BOHR_PER_ANGSTROM,
        pbc=True,
    )
    return np.asarray(acs_rho_g(atoms, family, rec.miller))


class Dataset:
    """A dataset directory opened for reading (and for adding entries).

    Args:
        path: the dataset directory (must hold ``manifest.json``).
    """

    def __init__(self, path: str | os.PathLike, *, repair_index: bool = False):
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError(f"{self.path}: no such dataset directory")
        self.manifest = read_manifest(self.path)
        self.entries_dir = self.path / ENTRIES
        index_path = self.path / INDEX
        fresh = not index_path.exists()
        #: True when a corrupt index.sqlite was removed and rebuilt (``repair_index``).
        self.index_rebuilt = False
        try:
            self.index = Index(index_path)
        except sqlite3.OperationalError:
            if fresh:
                raise InputError(f"{self.path}: cannot create the index (read-only?)") from None
            self.index = Index(index_path, readonly=True)
        except sqlite3.DatabaseError as exc:  # not an SQLite file: garbage, truncated
            if not repair_index:
                raise InputError(
                    f"{index_path} is not a readable index ({exc}); `rhocat data check "
                    f"{self.path}` rebuilds it from the entries"
                ) from None
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{index_path}{suffix}").unlink(missing_ok=True)
            self.index = Index(index_path)
            self.index_rebuilt = fresh = True
        self._family = None
        if fresh and self.entries_dir.is_dir():
            # a fresh clone (the index is not committed): index the files, but
            # leave checksums.sha256 as it came so that `data check` judges it
            self.reconcile(repair_checksums=False)

    # -- creation -----------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, manifest: Manifest) -> Dataset:
        """Open ``path`` for building with ``manifest``, creating it when new.

        Raises :class:`InputError` when ``path`` holds a dataset built with
        other settings, or is a non-empty directory that is not a dataset.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise InputError(f"{path}: exists and is not a directory")
        if (path / MANIFEST_NAME).exists():
            existing = read_manifest(path)
            diff = existing.differences(manifest)
            if diff:
                raise InputError(
                    f"{path} holds a different dataset ({'; '.join(diff)}); "
                    "choose another output directory or the same settings"
                )
        else:
            if path.is_dir() and any(path.iterdir()):
                raise InputError(f"{path}: directory is not empty and is not a rhocat dataset")
            path.mkdir(parents=True, exist_ok=True)
            write_manifest(path, manifest)
        (path / ENTRIES).mkdir(exist_ok=True)
        if not (path / ".gitignore").exists():
            atomic_write_text(path / ".gitignore", GITIGNORE, fsync=True)
        if not (path / CHECKSUMS).exists():
            # new dataset, or one written before checksum files existed
            write_checksums(
                path,
                {
                    e.name: file_sha256(e.path)
                    for e in os.scandir(path / ENTRIES)
                    if e.name.endswith(".h5") and not e.name.startswith(".")
                },
            )
        return cls(path)

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- queries ---------------------------------------------------------------------
    def ids(
        self,
        split: str | Sequence[str] | None = None,
        status: str | None = "ok",
        elements: Sequence[str] | None = None,
    ) -> list[str]:
        """Sorted ids of entries; by default only converged (``ok``) ones.

        ``status=None`` lists failed ones too; ``elements`` keeps entries that
        contain all the given elements.
        """
        return self.index.ids(split=split, status=status, elements=elements)

    def count(
        self,
        split: str | Sequence[str] | None = None,
        status: str | None = None,
        elements: Sequence[str] | None = None,
    ) -> int:
        return self.index.count(split=split, status=status, elements=elements)

    def rows(
        self, split: str | Sequence[str] | None = None, status: str | None = None
    ) -> list[IndexRow]:
        return self.index.rows(split=split, status=status)

    def row(self, entry_id: str) -> IndexRow:
        row = self.index.get(entry_id)
        if row is None:
            raise InputError(f"{self.path}: no entry {entry_id!r}")
        return row

    def splits(self) -> list[str]:
        return self.index.splits()

    def file_of(self, entry_id: str) -> Path:
        """Path of the entry file (found from the id alone: no index query, so that
        forked data-loader processes can read entries without sharing SQLite)."""
        path = self.entries_dir / entry_filename(entry_id)
        if not path.is_file():
            raise InputError(f"{self.path}: no entry {entry_id!r}")
        return path

    def __len__(self) -> int:
        return self.count(status="ok")

    def __contains__(self, entry_id: object) -> bool:
        return isinstance(entry_id, str) and self.index.get(entry_id) is not None

    # -- reading -------------------------------------------------------------------------
    @property
    def family(self):
        """The dataset's :class:`rhocat.qe.pseudo.PseudoFamily` (loaded once)."""
        if self._family is None:
            from rhocat.qe.pseudo import load_family

            self._family = load_family(self.manifest.family)
        return self._family

    def record(self, entry_id: str) -> EntryRecord:
        """Everything stored for ``entry_id`` (ok or failed).

        Compact entries get their ρ_ACS recomputed with the manifest's family.
        """
        rec = read_entry(self.file_of(entry_id))
        if rec.rho_g is not None and rec.rho_acs_g is None and rec.storage == "compact":
            rec.rho_acs_g = acs_of_record(rec, self.family)
        return rec

    def load(self, entry_id: str) -> DensitySample:
        """The :class:`DensitySample` of a converged entry (ρ, ρ_ACS on a full G list).

        Gamma-only densities are completed with ρ(−G) = ρ(G)* so that every
        sample has a full G sphere.
        """
        rec = self.record(entry_id)
        if rec.status != "ok" or rec.rho_g is None:
            raise InputError(
                f"{entry_id}: entry has no density (status {rec.status}: {rec.reason})"
            )
        if rec.rho_acs_g is None:
            raise InputError(f"{entry_id}: entry has no ACS density")
        miller, rho_g, acs = rec.miller, np.atleast_2d(rec.rho_g), rec.rho_acs_g
        if rec.gamma_only:
            miller, rho_g = expand_gamma(rec.miller, rho_g)
            _, acs = expand_gamma(rec.miller, acs)
        meta = dict(rec.meta)
        meta.update(
            formula=rec.formula, scf_accuracy_ry=rec.accuracy_ry, energies_ry=rec.energies_ry
        )
        if rec.paw:
            meta["paw"] = rec.paw
        return DensitySample(
            id=rec.id,
            numbers=np.asarray(rec.numbers, dtype=np.int64),
            positions_bohr=np.asarray(rec.positions_bohr),
            cell_bohr=np.asarray(rec.cell_bohr),
            miller=np.asarray(miller, dtype=np.int64),
            rho_g=rho_g,
            rho_acs_g=acs,
            fft_grid=tuple(int(n) for n in rec.meta["fft_grid"]),
            split=rec.split,
            meta=meta,
        )

    def iter_samples(
        self,
        split: str | Sequence[str] | None = None,
        shuffle: bool = False,
        seed: int = 0,
    ) -> Iterator[DensitySample]:
        """Stream converged samples one at a time (sorted by id, or shuffled by ``seed``)."""
        ids = self.ids(split=split)
        if shuffle:
            order = np.random.default_rng(seed).permutation(len(ids))
            ids = [ids[i] for i in order]
        for entry_id in ids:
            yield self.load(entry_id)

    def iter_grid_points(
        self,
        points_per_structure: int,
        split: str | Sequence[str] | None = None,
        shuffle: bool = True,
        seed: int = 0,
    ) -> Iterator[tuple[DensitySample, dict[str, np.ndarray]]]:
        """Stream (sample, random grid points) pairs, one structure in memory at a time.

        See :func:`rhocat.data.grid.sample_grid_points` for the point arrays.
        """
        rng = np.random.default_rng(seed)
        for sample in self.iter_samples(split=split, shuffle=shuffle, seed=seed):
            yield sample, sample_grid_points(sample, points_per_structure, rng)

    # -- writing ----------------------------------------------------------------------
    @property
    def work_dir(self) -> Path:
        return self.path / WORK

    def add(self, record: EntryRecord) -> IndexRow:
        """Write an entry file atomically, then its index row."""
        row = write_entry_file(self.path, record, self.manifest.storage)
        self.index.upsert([row])
        return row

    def add_rows(self, rows: Sequence[IndexRow]) -> None:
        """Index entry files that a worker has already written."""
        self.index.upsert(rows)

    def reconcile(self, repair_checksums: bool = True) -> dict[str, int]:
        """Make the index agree with the entry files after a crash.

        Returns counts: ``added`` (files without a row), ``removed`` (rows
        without a file), ``stale`` (temporary files and scratch folders deleted),
        ``unreadable`` (files that are not readable entries; left in place and
        reported by ``rhocat data check``), ``checksummed`` (newly indexed files
        whose line in ``checksums.sha256`` was missing: written just before a
        crash; their line is appended unless ``repair_checksums`` is False).
        """
        stats = {"added": 0, "removed": 0, "stale": 0, "unreadable": 0, "checksummed": 0}
        self.entries_dir.mkdir(exist_ok=True)
        indexed = self.index.files()
        on_disk = set()
        new_rows = []
        for entry in os.scandir(self.entries_dir):
            if entry.name.startswith(".tmp-"):
                Path(entry.path).unlink(missing_ok=True)
                stats["stale"] += 1
                continue
            if not entry.name.endswith(".h5"):
                continue
            on_disk.add(entry.name)
            if entry.name in indexed:
                continue
            try:
                attrs = read_attrs(entry.path)
            except InputError:
                stats["unreadable"] += 1
                continue
            if entry_filename(attrs["id"]) != entry.name:
                stats["unreadable"] += 1
                continue
            new_rows.append(row_from_attrs(attrs, entry.name, file_sha256(entry.path)))
        self.index.upsert(new_rows)
        stats["added"] = len(new_rows)
        known = read_checksums(self.path)
        if known is not None and repair_checksums:
            lines = {r.file: r.checksum for r in new_rows if r.file not in known[0]}
            gone = [f for f in known[0] if f not in on_disk]
            try:
                append_checksums(self.path, lines)
                if gone:  # entries deleted on purpose or lost: the build recomputes them
                    kept = {f: h for f, h in known[0].items() if f in on_disk}
                    write_checksums(self.path, {**kept, **lines})
            except OSError:
                pass  # read-only copy: `rhocat data check` reports the missing lines
            else:
                stats["checksummed"] = len(lines)
        missing = [i for f, i in indexed.items() if f not in on_disk]
        self.index.delete(missing)
        stats["removed"] = len(missing)
        if self.work_dir.is_dir():
            for child in self.work_dir.iterdir():
                shutil.rmtree(child, ignore_errors=True)
                stats["stale"] += 1
        return stats
