"""rhocat.fileio: atomic writes (whole new file or the old one, never half) and JSON data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rhocat.fileio import atomic_dir, atomic_path, atomic_write_json, atomic_write_text


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_atomic_path_replaces_the_file_with_ordinary_permissions(tmp_path):
    (tmp_path / "plain.txt").write_text("x")  # what open(path, "w") gives under this umask
    path = tmp_path / "sub" / "out.csv"
    with atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp.name.startswith(".out.csv.tmp-")
        assert not path.exists()  # nothing under the final name before the rename
        tmp.write_text("a,b\n")
    assert path.read_text() == "a,b\n" and _hidden(path.parent) == []
    mode = path.stat().st_mode & 0o777
    assert mode == (tmp_path / "plain.txt").stat().st_mode & 0o777


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "manifest.json"
    atomic_write_text(path, "old\n", fsync=True)
    with pytest.raises(ValueError, match="half way"):
        with atomic_path(path, fsync=True) as tmp:
            tmp.write_text("new, but not finished")
            raise ValueError("half way")
    assert path.read_text() == "old\n" and _hidden(tmp_path) == []


def test_temporaries_of_a_dead_process_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".x.json.tmp-{int(dead.stdout)}-abcd.tmp"
    stale.write_text("{")
    mine = tmp_path / f".x.json.tmp-{os.getpid()}-abcd.tmp"  # a live writer's: kept
    mine.write_text("{")
    atomic_write_json(tmp_path / "x.json", {"a": 1})
    assert not stale.exists() and mine.exists()


def test_json_holds_numpy_values_and_paths(tmp_path):
    obj = {"v": np.arange(3), "x": np.float32(0.5), "p": Path("/a/b"), "nan": float("nan")}
    atomic_write_json(tmp_path / "r.json", obj)
    text = (tmp_path / "r.json").read_text()
    assert text.endswith("}\n")
    back = json.loads(text)
    assert back["v"] == [0, 1, 2] and back["x"] == 0.5 and back["p"] == "/a/b"
    assert back["nan"] != back["nan"]
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        atomic_write_json(tmp_path / "bad.json", {"o": object()})
    assert not (tmp_path / "bad.json").exists() and _hidden(tmp_path) == []


def test_atomic_dir_new_folder_appears_whole(tmp_path):
    final = tmp_path / "si.save"
    with atomic_dir(final) as tmp:
        (tmp / "charge-density.dat").write_bytes(b"rho")
        assert not final.exists()
    assert sorted(p.name for p in final.iterdir()) == ["charge-density.dat"]
    assert _hidden(tmp_path) == []


def test_atomic_dir_existing_folder_keeps_other_files(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "paw.txt").write_text("old")
    (target / "data-file-schema.xml").write_text("<keep/>")
    link = tmp_path / "link"
    link.symlink_to(target)  # written through, never renamed away
    with atomic_dir(link, replaces={"paw.txt", "charge-density.dat"}) as tmp:
        assert tmp.parent == target
        (tmp / "charge-density.dat").write_bytes(b"rho")
    assert link.is_symlink()
    assert sorted(p.name for p in target.iterdir()) == [
        "charge-density.dat",
        "data-file-schema.xml",
    ]
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "charge-density.dat").write_bytes(b"half")
            raise RuntimeError("stop")
    assert (target / "charge-density.dat").read_bytes() == b"rho" and _hidden(target) == []
