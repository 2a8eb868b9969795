"""``rhocat train`` on a real (tiny) dataset directory."""

from __future__ import annotations

import json

import numpy as np

from rhocat.cli.main import main
from rhocat.data.entry import EntryRecord
from rhocat.data.manifest import Manifest
from rhocat.data.store import Dataset
from rhocat.train import load_model


def _dataset(path, samples, manifest=None):
    ds = Dataset.create(path, manifest or Manifest())
    for s in samples:
        meta = {"fft_grid": list(s.fft_grid), "pseudos": s.meta["pseudos"]}
        meta["qe_version"] = s.meta["qe_version"]
        b = np.linalg.inv(s.cell_bohr).T * np.linalg.norm(s.cell_bohr[0])
        rec = EntryRecord(id=s.id, split=s.split, status="ok", numbers=s.numbers, b=b, meta=meta)
        rec.positions_bohr, rec.cell_bohr, rec.miller = s.positions_bohr, s.cell_bohr, s.miller
        rec.rho_g, rec.rho_acs_g = s.rho_g, s.rho_acs_g
        ds.add(rec)
    ds.close()
    return path


def test_cli_train_radial_and_basis(real_samples, tmp_path, capsys):
    data = _dataset(tmp_path / "ds", real_samples)
    rc = main(
        ["train", str(data), "-o", str(tmp_path / "r.pt"), "--model", "radial", "--no-progress"]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["val"]["captured_pct"] > 0
    m = load_model(tmp_path / "r.pt")
    assert out["ridge_lambda"] == m.config["ridge_lambda"]  # chosen on 'val', a number
    assert isinstance(out["ridge_lambda"], float)
    assert m.metadata["pseudo_family"] == "debian-pbe" and set(m.metadata["pseudo_md5"]) == {
        "Si",
        "C",
    }
    cfg = tmp_path / "tiny.json"
    cfg.write_text(
        json.dumps({"model": {"basis": {"l_max": 2, "n_alpha": 3}, "hidden_muls": [4, 2]}})
    )
    args = [
        "train",
        str(data),
        "-o",
        str(tmp_path / "b.pt"),
        "--config",
        str(cfg),
        "--steps",
        "3",
        "--no-progress",
    ]
    assert main(args + ["--val-every", "2"]) == 0
    assert (tmp_path / "b.last.pt").is_file() and (tmp_path / "b.metrics.csv").is_file()
    resume = [
        "train",
        str(data),
        "-o",
        str(tmp_path / "b.pt"),
        "--config",
        str(cfg),
        "--steps",
        "5",
    ]
    assert main(resume + ["--resume", "--no-progress"]) == 0
    rows = (tmp_path / "b.metrics.csv").read_text().splitlines()
    assert len(rows) == 6 and rows[-1].startswith("4,")


def test_train_model_reads_family_and_protocol_from_the_manifest(real_samples, tmp_path):
    from rhocat.train import train_model

    data = _dataset(tmp_path / "ds", real_samples, Manifest(protocol="moderate"))
    with Dataset(data) as ds:
        model = train_model(ds, "radial", progress=False).model
    assert model.metadata["protocol"] == "moderate"
    assert model.metadata["pseudo_family"] == "debian-pbe"
    assert model.metadata["dataset"] == str(data)
    # a list of samples has no manifest: nothing is assumed
    assert "protocol" not in train_model(real_samples, "radial", progress=False).model.metadata


def test_cli_train_user_errors(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope"), "-o", str(tmp_path / "m.pt")]) == 2
    assert "no such dataset" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    data = tmp_path / "ds"
    Dataset.create(data, Manifest()).close()
    assert main(["train", str(data), "-o", str(tmp_path / "m.pt"), "--config", str(bad)]) == 2
    assert "cannot read config" in capsys.readouterr().err
    assert main(["train", str(data), "-o", str(tmp_path / "m.pt"), "--resume"]) == 2


def test_cli_train_ensemble(real_samples, tmp_path, capsys):
    data = _dataset(tmp_path / "ds", real_samples)
    cfg = tmp_path / "tiny.json"
    cfg.write_text(
        json.dumps({"model": {"basis": {"l_max": 2, "n_alpha": 3}, "hidden_muls": [4, 2],
                              "element_features": True}})
    )  # fmt: skip
    out_pt = tmp_path / "ens.pt"
    args = ["train", str(data), "-o", str(out_pt), "--config", str(cfg), "--steps", "2",
            "--no-progress"]  # fmt: skip
    rc = main([*args, "--ensemble", "2"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "ensemble" and summary["n_members"] == 2
    m = load_model(out_pt)
    assert m.kind == "ensemble" and len(m.members) == 2
    assert m.members[0].config["element_features"] is True
    assert m.metadata["pseudo_family"] == "debian-pbe"
    assert main([*args, "--ensemble", "1"]) == 2
    assert "at least 2 members" in capsys.readouterr().err
    assert main([*args, "--ensemble", "2", "--model", "radial"]) == 2
