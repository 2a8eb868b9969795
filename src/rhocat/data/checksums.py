"""``checksums.sha256``: the SHA-256 of every entry file, kept next to the files.

The SQLite index is a local cache (not committed); this plain-text file
travels with the entry files (e.g. in git) so that ``rhocat data check`` can
verify a fresh clone. Format: ``sha256sum``'s, one line per write,
``<hex>  entries/<file>``. A rewritten entry appends a new line; the last
line for a file wins (so the file only grows and git diffs stay small).
Lines are appended under an exclusive ``flock`` and fsynced, so concurrent
build workers never interleave.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

from rhocat.errors import InputError
from rhocat.fileio import atomic_write_text

CHECKSUMS = "checksums.sha256"
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def checksum_line(file_name: str, sha256: str, entries: str = "entries") -> str:
    """One line in sha256sum format for an entry file (name relative to ``entries/``)."""
    return f"{sha256}  {entries}/{file_name}\n"


def append_checksums(
    dataset_dir: str | os.PathLike, items: dict[str, str], entries: str = "entries"
) -> None:
    """Append ``file name -> sha256`` lines to the dataset's checksum file (flock + fsync)."""
    if not items:
        return
    text = "".join(checksum_line(name, h, entries) for name, h in items.items())
    path = Path(dataset_dir) / CHECKSUMS
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock


def read_checksums(
    dataset_dir: str | os.PathLike, entries: str = "entries"
) -> tuple[dict[str, str], list[str]] | None:
    """(file name -> sha256, the last line for a file wins; malformed lines), or None
    when the dataset has no checksum file. File names are relative to ``entries/``."""
    path = Path(dataset_dir) / CHECKSUMS
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"{path}: unreadable ({exc})") from exc
    out: dict[str, str] = {}
    bad: list[str] = []
    prefix = f"{entries}/"
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m or not m.group(2).startswith(prefix):
            bad.append(f"line {number}: {line[:80]!r}")
            continue
        out[m.group(2)[len(prefix) :]] = m.group(1)
    return out, bad


def write_checksums(
    dataset_dir: str | os.PathLike, items: dict[str, str], entries: str = "entries"
) -> None:
    """Write the whole checksum file atomically (sorted by file name)."""
    text = "".join(checksum_line(name, items[name], entries) for name in sorted(items))
    atomic_write_text(Path(dataset_dir) / CHECKSUMS, text, fsync=True)
