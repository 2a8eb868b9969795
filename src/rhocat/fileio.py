"""Atomic file writes (a reader sees the old file or the whole new one, never half of
it) and conversion of numpy/path values to plain JSON data."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

#: Marker in the names of rhocat's hidden temporaries: ``.<name>.tmp-<pid>-<random>``.
TMP_TAG = "tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the hidden temporaries of ``path`` (``.<name>.tmp-<pid>-*`` next to it) whose
    process is gone, e.g. killed by SIGKILL mid-write. Returns what was removed."""
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.{TMP_TAG}-(\d+)-")
    removed = []
    for entry in parent.iterdir():
        m = pattern.match(entry.name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def named_os_error(exc: OSError, path: str | os.PathLike) -> OSError:
    """``exc`` naming ``path`` when it names no file (a write that ran out of space).

    numpy's ``tofile`` raises an OSError without errno on a full disk: it becomes
    ENOSPC when the file system has no free block left, else EIO."""
    import errno

    if exc.errno is None:
        code = errno.EIO
        try:
            if os.statvfs(Path(path).parent).f_bavail == 0:
                code = errno.ENOSPC
        except OSError:
            pass
        return OSError(code, os.strerror(code), str(path))
    if exc.filename is None:
        return OSError(exc.errno, exc.strerror, str(path))
    return exc


def temporary_dir_for(path: str | os.PathLike) -> Path:
    """A new hidden folder next to ``path`` to build it in before a rename
    (``.<name>.tmp-<pid>-<random>``); stale ones of dead processes are removed first."""
    path = Path(path)
    remove_stale_temporaries(path)
    prefix = f".{path.name}.{TMP_TAG}-{os.getpid()}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary name in ``path``'s folder, then ``os.replace`` it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    prefix = f".{path.name}.{TMP_TAG}-{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        named = named_os_error(exc, path)  # before freeing the space
        Path(tmp).unlink(missing_ok=True)
        raise named from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) atomically, as :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy arrays/scalars and paths turned into plain JSON data (dict keys
    as strings), recursively through dicts, lists and tuples."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def check_output_file(path: str | os.PathLike) -> None:
    """Refuse, before any work, an output file that cannot be made: ``path`` is a folder,
    or one of its parents is a file. Raises :class:`rhocat.errors.InputError`.

    A read-only or full file system is found when writing (one-line ``OSError``)."""
    from rhocat.errors import InputError

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder: give the name of the file to write")
    parent = next((q for q in path.parents if q.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError(f"cannot create {path}: {parent} is a file")


def check_output_dir(
    path: str | os.PathLike, *, force: bool = False, replaced: str = "the files rhocat writes"
) -> None:
    """rhocat's one overwrite rule for an output folder (``predict``, ``acs``).

    A new or empty folder is fine; a path that is a file is refused; a folder that
    holds anything is refused unless ``force``, which replaces ``replaced`` in it and
    leaves other files alone. Hidden temporaries of dead rhocat processes are removed
    first. Raises :class:`rhocat.errors.InputError`.
    """
    from rhocat.errors import InputError

    path = Path(path)
    remove_stale_temporaries(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} exists and is not a folder")
    if not path.is_dir():
        parent = next((q for q in path.parents if q.exists()), None)
        if parent is not None and not parent.is_dir():
            raise InputError(f"cannot create {path}: {parent} is a file")
        return
    entries = sorted(q.name for q in path.iterdir() if not q.name.startswith("."))
    if entries and not force:
        raise InputError(
            f"{path} is not empty ({', '.join(entries[:3])}{', ...' if len(entries) > 3 else ''}):"
            f" refusing to overwrite it (--force replaces {replaced} in it)"
        )
