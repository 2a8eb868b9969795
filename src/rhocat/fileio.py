"""Atomic file writes (a reader sees the old file or the whole new one, never half of
it) and conversion of numpy/path values to plain JSON data."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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


def _create_temporary(path: Path) -> Path:
    """A new empty hidden file next to ``path`` (``.<name>.tmp-<pid>-<random>.tmp``), with
    the permissions an ordinary ``open(path, "w")`` would give (0666 less the umask)."""
    import secrets

    while True:
        tmp = path.parent / f".{path.name}.{TMP_TAG}-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = False) -> Iterator[Path]:
    """A temporary file next to ``path`` to write the whole new file into.

    On a clean exit of the ``with`` block the temporary replaces ``path``
    (``os.replace``: a reader sees the old file or the whole new one, never half of
    it); on an error it is removed and ``path`` is left as it was. An ``OSError`` that
    names no file (numpy on a full disk) is raised naming ``path``. Hidden temporaries
    of dead rhocat processes are removed first; missing parent folders are created.

    Args:
        path: the file to write.
        fsync: flush the new file to disk before the rename (files that must survive
            a power cut, such as a dataset's manifest and checksums).

    Example::

        with atomic_path("model.pt") as tmp:
            torch.save(content, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = _create_temporary(path)
    try:
        yield tmp
        if fsync:
            _fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        named = named_os_error(exc, path)  # before freeing the space
        tmp.unlink(missing_ok=True)
        if named is exc:
            raise
        raise named from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(
    path: str | os.PathLike, *, replaces: Iterable[str] = (), inner: str = ".new"
) -> Iterator[Path]:
    """A temporary folder to build the folder ``path`` in, moved into place on a clean exit.

    A new ``path`` is the renamed temporary: it appears complete or not at all. An
    existing one (a folder, a symlink to one, a mount point) is never renamed away: each
    file of the temporary replaces its namesake inside it atomically, the names in
    ``replaces`` that the new files lack are removed, other files are left alone. The
    temporary lies inside an existing ``path`` (same file system, even for a mount point
    or a symlink's target; named ``<inner>.tmp-<pid>-<random>``), else next to it. On an
    error it is removed and ``path`` is left as it was; an ``OSError`` that names no file
    is raised naming ``path``.

    Example::

        with atomic_dir("si.save") as tmp:
            (tmp / "charge-density.dat").write_bytes(data)
    """
    path = Path(path)
    if path.is_dir():
        tmp = temporary_dir_for(path.resolve() / inner)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_dir_for(path)
    try:
        yield tmp
        _install_dir(tmp, path, replaces)
    except OSError as exc:
        named = named_os_error(exc, path)  # before freeing the space
        shutil.rmtree(tmp, ignore_errors=True)
        if named is exc:
            raise
        raise named from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _install_dir(tmp: Path, final: Path, replaces: Iterable[str]) -> None:
    """Move the complete folder ``tmp`` into place as ``final`` (see :func:`atomic_dir`)."""
    if not final.is_dir():
        os.replace(tmp, final)
        return
    target = final.resolve()
    new = {q.name for q in tmp.iterdir()}
    for name in sorted(new):
        os.replace(tmp / name, target / name)
    for name in set(replaces) - new:
        (target / name).unlink(missing_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, fsync=fsync) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, *, fsync: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int = 1) -> None:
    """Write ``obj`` as JSON (numpy values and paths as plain data, NaN allowed) atomically,
    with a final newline."""
    text = json.dumps(obj, indent=indent, allow_nan=True, default=_json_default) + "\n"
    atomic_write_text(path, text)


def _json_default(obj: Any) -> Any:
    converted = to_jsonable(obj)
    if converted is obj:
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")
    return converted


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
