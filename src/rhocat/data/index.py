"""The SQLite index of a dataset: one row per entry file, queried without opening files.

The entry files are the ground truth; the index is a cache that
:meth:`rhocat.data.store.Dataset.reconcile` rebuilds from them after a crash.
Every write is one SQLite transaction, so a killed process leaves either the
old row or the new one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    split TEXT NOT NULL,
    formula TEXT NOT NULL,
    elements TEXT NOT NULL,      -- ',Ga,N,' (sorted, comma-delimited for LIKE queries)
    n_atoms INTEGER NOT NULL,
    status TEXT NOT NULL,        -- 'ok' | 'failed'
    reason TEXT NOT NULL,
    n_iterations INTEGER,
    scf_s REAL,                  -- wall time of the ground-truth SCF (pw.x), s
    total_s REAL,                -- wall time of the whole pipeline for this entry, s
    grid_points INTEGER,         -- n1*n2*n3 of the FFT grid (0 when failed)
    ngm INTEGER,                 -- number of stored G vectors
    nspin INTEGER,
    file TEXT NOT NULL,          -- file name relative to the entries folder
    checksum TEXT NOT NULL,      -- sha256 of the file
    input_hash TEXT NOT NULL,    -- hash of the input structure (before perturbation)
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_split ON entries (split, status);
"""


@dataclass
class IndexRow:
    """One row of the index (see :data:`SCHEMA` for units)."""

    id: str
    split: str
    formula: str
    elements: str
    n_atoms: int
    status: str
    reason: str
    n_iterations: int | None
    scf_s: float | None
    total_s: float | None
    grid_points: int
    ngm: int
    nspin: int
    file: str
    checksum: str
    input_hash: str = ""
    updated: float = 0.0

    @property
    def element_list(self) -> list[str]:
        return [e for e in self.elements.split(",") if e]


_COLUMNS = [f.name for f in fields(IndexRow)]


class Index:
    """Thin wrapper over the SQLite file ``index.sqlite`` of a dataset."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        if readonly:
            uri = f"file:{self.path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, timeout=60)
        else:
            self._db = sqlite3.connect(self.path, timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._db.commit()

    def close(self) -> None:
        self._db.close()

    def upsert(self, rows: Iterable[IndexRow]) -> None:
        """Insert or replace rows in one transaction."""
        now = time.time()
        values = []
        for row in rows:
            d = asdict(row)
            d["updated"] = d["updated"] or now
            values.append(tuple(d[c] for c in _COLUMNS))
        if not values:
            return
        marks = ",".join("?" * len(_COLUMNS))
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO entries ({','.join(_COLUMNS)}) VALUES ({marks})", values
            )

    def delete(self, ids: Sequence[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM entries WHERE id = ?", [(i,) for i in ids])

    def _where(
        self,
        split: str | Sequence[str] | None,
        status: str | None,
        elements: Sequence[str] | None,
    ) -> tuple[str, list]:
        clauses, args = [], []
        if split is not None:
            splits = [split] if isinstance(split, str) else list(split)
            clauses.append(f"split IN ({','.join('?' * len(splits))})")
            args += splits
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        for el in elements or ():
            clauses.append("elements LIKE ?")
            args.append(f"%,{el},%")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def ids(
        self,
        split: str | Sequence[str] | None = None,
        status: str | None = "ok",
        elements: Sequence[str] | None = None,
    ) -> list[str]:
        """Ids (sorted) matching the filters; ``elements``: entries containing all of them."""
        where, args = self._where(split, status, elements)
        return [r[0] for r in self._db.execute(f"SELECT id FROM entries{where} ORDER BY id", args)]

    def count(
        self,
        split: str | Sequence[str] | None = None,
        status: str | None = None,
        elements: Sequence[str] | None = None,
    ) -> int:
        where, args = self._where(split, status, elements)
        return int(self._db.execute(f"SELECT COUNT(*) FROM entries{where}", args).fetchone()[0])

    def rows(
        self,
        split: str | Sequence[str] | None = None,
        status: str | None = None,
        elements: Sequence[str] | None = None,
    ) -> list[IndexRow]:
        where, args = self._where(split, status, elements)
        cur = self._db.execute(f"SELECT {','.join(_COLUMNS)} FROM entries{where} ORDER BY id", args)
        return [IndexRow(*r) for r in cur]

    def get(self, entry_id: str) -> IndexRow | None:
        cur = self._db.execute(
            f"SELECT {','.join(_COLUMNS)} FROM entries WHERE id = ?", (entry_id,)
        )
        r = cur.fetchone()
        return IndexRow(*r) if r else None

    def status_map(self) -> dict[str, str]:
        """id -> status for every row (one query)."""
        return dict(self._db.execute("SELECT id, status FROM entries"))

    def files(self) -> dict[str, str]:
        """file name -> id for every row."""
        return {f: i for i, f in self._db.execute("SELECT id, file FROM entries")}

    def input_hashes(self) -> dict[str, str]:
        """id -> input structure hash for every row."""
        return dict(self._db.execute("SELECT id, input_hash FROM entries"))

    def splits(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT split FROM entries ORDER BY split")]
