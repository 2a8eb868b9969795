"""Unusable checkpoints are told apart: truncated, random bytes, pickled objects, empty."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from rhocat.cli.main import main
from rhocat.errors import ModelError
from rhocat.train import load_model


class _Foreign:
    pass


@pytest.fixture
def good(tmp_path):
    from rhocat.models import RadialModel
    from rhocat.train import save_checkpoint
    from rhocat.train.checkpoint import checkpoint_dict

    return save_checkpoint(tmp_path / "ok.pt", checkpoint_dict(RadialModel({}, [14, 6])))


def refusal(path) -> str:
    with pytest.raises(ModelError) as info:
        load_model(path)
    return str(info.value)


def test_truncated_checkpoint_is_called_truncated(good, tmp_path):
    data = good.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    msg = refusal(tmp_path / "cut.pt")
    assert "truncated checkpoint" in msg and msg.endswith("copy it again")


def test_random_bytes_are_not_called_pickled_code(tmp_path):
    (tmp_path / "noise.pt").write_bytes(os.urandom(4096).replace(b"\x80", b"\x81"))
    msg = refusal(tmp_path / "noise.pt")
    assert "neither a PyTorch zip archive nor a pickle" in msg and "pickled" not in msg
    (tmp_path / "empty.pt").write_bytes(b"")
    assert "is empty" in refusal(tmp_path / "empty.pt")


def test_pickled_objects_are_refused_as_such(tmp_path):
    torch.save({"format": "rhocat-model", "obj": _Foreign()}, tmp_path / "obj.pt")
    assert "pickled objects" in refusal(tmp_path / "obj.pt")
    (tmp_path / "old.pt").write_bytes(pickle.dumps({"a": _Foreign()}, protocol=4))
    assert "old-style pickle" in refusal(tmp_path / "old.pt")


def test_cli_says_it_in_one_line(good, tmp_path, capsys):
    from ase.build import bulk

    bulk("Si", "diamond", a=5.43).write(tmp_path / "si.cif")
    data = good.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[:100])
    rc = main(["predict", str(tmp_path / "cut.pt"), str(tmp_path / "si.cif"), "-o", "x"])
    err = capsys.readouterr().err
    assert rc == 2 and "truncated checkpoint" in err and len(err.strip().splitlines()) == 1
