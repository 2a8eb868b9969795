"""split.json and the CLI of both stages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rhocat.cli.main import main
from rhocat.errors import InputError
from rhocat.split import load_split_structures, make_split, read_split, write_split
from rhocat.structures import generate_candidates, read_candidates, write_candidates

DATA = Path(__file__).parents[1] / "data_files" / "structures"
ELEMENTS = ["Cu", "Ni", "Ga", "Ge", "Si"]


@pytest.fixture(scope="module")
def cand_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cands")
    write_candidates(generate_candidates(ELEMENTS), d)
    return d


def test_split_json_is_self_contained(cand_dir, tmp_path):
    cands = read_candidates(cand_dir)
    split = make_split(cands, seed=1)
    path = write_split(split, tmp_path / "out" / "split.json")
    doc = json.loads(path.read_text())
    entry = doc["candidates"][0]
    for key in ("id", "split", "formula", "elements", "oxidation_states", "reason", "structure"):
        assert key in entry
    assert not Path(entry["structure"]).is_absolute()
    assert (path.parent / entry["structure"]).is_file()
    back = read_split(path)
    assert [(a.id, a.split) for a in back.assignments] == [
        (a.id, a.split) for a in split.assignments
    ]
    loaded = load_split_structures(path)
    assert {i for i, _, _ in loaded} == {a.id for a in split.assignments if a.split != "dropped"}
    by_id = {c.id: c for c in cands}
    for cid, name, atoms in loaded:
        assert name == back.by_id()[cid].split
        assert np.allclose(atoms.positions, by_id[cid].atoms.positions, atol=1e-6)
    only = load_split_structures(path, splits=["test_ternary"])
    assert only and all(n == "test_ternary" for _, n, _ in only)


def test_split_json_moves_with_its_structures(cand_dir, tmp_path):
    import shutil

    split = make_split(read_candidates(cand_dir), seed=1)
    write_split(split, cand_dir / "split.json")
    moved = tmp_path / "moved"
    shutil.copytree(cand_dir, moved)
    assert load_split_structures(moved / "split.json")


def test_in_memory_candidates_get_structure_files(tmp_path):
    split = make_split(generate_candidates(ELEMENTS), seed=0)
    path = write_split(split, tmp_path / "split.json")
    assert (tmp_path / "split_structures").is_dir()
    assert len(load_split_structures(path, include_dropped=True)) == len(split.assignments)


def test_read_split_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_split(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text('{"format": "something-else"}')
    with pytest.raises(InputError, match="not a rhocat split"):
        read_split(tmp_path / "x.json")
    with pytest.raises(InputError, match="unknown split"):
        load_split_structures(tmp_path / "x.json", splits=["bogus"])


def test_cli_generate_split(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["structures", "generate", "--elements", ",".join(ELEMENTS), "-o", str(out)]) == 0
    assert (out / "candidates.json").is_file()
    rc = main(["split", str(out), "-o", str(tmp_path / "split.json"), "--seed", "2", "--val", "1"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Train (unary)" in printed and "Test (ternary)" in printed
    assert read_split(tmp_path / "split.json").parameters["seed"] == 2


def test_cli_bad_input_exit_2(tmp_path, capsys):
    assert main(["structures", "generate", "--elements", "Cu,Qq", "-o", str(tmp_path / "a")]) == 2
    assert "unknown element" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    assert main(["structures", "generate", "--elements", ",", "-o", str(tmp_path / "b")]) == 2
    assert main(["split", str(tmp_path / "missing"), "-o", str(tmp_path / "s.json")]) == 2
    out = tmp_path / "small"
    assert main(["structures", "generate", "--elements", "Cu,Ni", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["split", str(out), "-o", str(tmp_path / "s.json")]) == 2
    assert "too small for a ternary split" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()
    assert main(["split", str(out), "-o", str(tmp_path / "s.json"), "--no-ternary"]) == 0


def test_cli_import(tmp_path, capsys):
    files = [str(DATA / "GaAs_conventional.cif"), str(DATA / "corrupt.cif")]
    assert main(["structures", "import", *files, "-o", str(tmp_path / "imp")]) == 0
    captured = capsys.readouterr()
    assert "corrupt.cif" in captured.err and "1 candidates imported" in captured.out
    assert [c.id for c in read_candidates(tmp_path / "imp")] == ["sg216-GaAs"]
    assert main(["structures", "import", str(DATA / "corrupt.cif"), "-o", str(tmp_path / "x")]) == 2


def test_cli_mp_without_key(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    assert main(["structures", "mp", "--elements", "Ga,As", "-o", str(tmp_path / "mp")]) == 2
    assert "MP_API_KEY" in capsys.readouterr().err


def test_cli_subprocess_exit_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "rhocat.cli.main", "structures", "generate", "--elements", "Zz",
         "-o", str(tmp_path / "z")],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "unknown element" in proc.stderr
