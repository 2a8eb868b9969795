"""A garbage ``index.sqlite``: `data check` reports and rebuilds it; others say so in one line."""

from __future__ import annotations

import pytest
from ase.build import bulk

from rhocat.cli.main import main
from rhocat.data.check import check_dataset
from rhocat.data.manifest import Manifest
from rhocat.data.store import Dataset
from rhocat.errors import InputError
from tests.data.test_data_store import gaussian_record


@pytest.fixture
def garbage_index(tmp_path):
    ds = Dataset.create(tmp_path / "data", Manifest(overrides={"ecutwfc": 20.0}))
    si = bulk("Si", "diamond", a=5.43)
    for i in range(2):
        ds.add(gaussian_record(f"s{i}", si, split="val" if i else "train"))
    ds.close()
    for extra in ds.path.glob("index.sqlite-*"):
        extra.unlink()
    (ds.path / "index.sqlite").write_bytes(b"this is not an SQLite database\n" * 40)
    return ds.path


def test_opening_says_what_is_wrong_and_how_to_repair(garbage_index, capsys):
    with pytest.raises(InputError, match="not a readable index.*rhocat data check"):
        Dataset(garbage_index)
    assert main(["data", "summary", str(garbage_index)]) == 2
    err = capsys.readouterr().err
    assert "rhocat data check" in err and len(err.strip().splitlines()) == 1


def test_data_check_rebuilds_it_from_the_entries(garbage_index, capsys):
    report = check_dataset(garbage_index)
    assert report.clean and report.ok == 2
    assert any("rebuilt from the entries" in n for n in report.notes)
    with Dataset(garbage_index) as ds:
        assert ds.ids() == ["s0", "s1"] and ds.ids(split="val") == ["s1"]
    assert main(["data", "check", str(garbage_index)]) == 0


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_train_and_evaluate_say_it_in_one_line(garbage_index, tmp_path, command, capsys):
    """The probe's `train` and `evaluate` on a garbage index: no sqlite3 traceback."""
    from rhocat.models import RadialModel
    from rhocat.train import save_checkpoint
    from rhocat.train.checkpoint import checkpoint_dict

    if command == "train":
        args = ["train", str(garbage_index), "-o", str(tmp_path / "m.pt")]
    else:
        ckpt = save_checkpoint(tmp_path / "r.pt", checkpoint_dict(RadialModel({}, [14])))
        args = ["evaluate", str(ckpt), str(garbage_index), "-o", str(tmp_path / "res")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "rhocat data check" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "res").exists()
