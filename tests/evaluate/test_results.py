"""The results folder: atomic rows, resumable, bound to one model."""

from __future__ import annotations

import json

import pytest

from rhocat.errors import InputError
from rhocat.evaluate.results import ResultsDir, file_sha256, load_rows


def test_rows_round_trip_and_resume(tmp_path):
    res = ResultsDir(tmp_path / "r", "a" * 64, {"model": "m.pt"})
    assert not res.has("Si/diamond")
    res.write_row({"id": "Si/diamond", "split": "test", "status": "ok", "s_auc": 0.2})
    res.write_row({"id": "NiSi", "split": "test", "status": "failed", "error": "x"})
    assert res.has("Si/diamond", ok_only=True)
    assert res.has("NiSi") and not res.has("NiSi", ok_only=True)
    # reopening with the same model keeps the rows
    again = ResultsDir(tmp_path / "r", "a" * 64)
    assert again.has("Si/diamond")
    rows = load_rows(tmp_path / "r")
    assert [r["id"] for r in rows] == ["NiSi", "Si/diamond"]
    assert all(r["model_sha256"] == "a" * 64 for r in rows)
    # no temporary file left behind
    assert not list((tmp_path / "r").rglob("*.tmp"))


def test_refuses_to_mix_models(tmp_path):
    ResultsDir(tmp_path / "r", "a" * 64, {"model": "first.pt"})
    with pytest.raises(InputError, match="another model"):
        ResultsDir(tmp_path / "r", "b" * 64)


def test_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a rhocat results folder"):
        ResultsDir(tmp_path / "busy", "a" * 64)
    with pytest.raises(InputError):
        load_rows(tmp_path / "busy")


def test_load_rows_detects_a_row_of_another_model(tmp_path):
    res = ResultsDir(tmp_path / "r", "a" * 64)
    p = res.write_row({"id": "x", "status": "ok"})
    row = json.loads(p.read_text())
    row["model_sha256"] = "c" * 64
    p.write_text(json.dumps(row))
    with pytest.raises(InputError, match="another model"):
        load_rows(tmp_path / "r")


def test_file_sha256_of_file_and_directory(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(b"abc")
    (tmp_path / "f.bin").write_bytes(b"abc")
    assert file_sha256(tmp_path / "f.bin") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    d1 = file_sha256(tmp_path / "m")
    (tmp_path / "m" / "w.bin").write_bytes(b"abd")
    assert file_sha256(tmp_path / "m") != d1


def test_refuses_other_settings(tmp_path):
    ResultsDir(tmp_path / "r", "a" * 64, settings={"pw_file_threshold": True})
    ResultsDir(tmp_path / "r", "a" * 64, settings={"pw_file_threshold": True})
    with pytest.raises(InputError, match="other settings.*pw_file_threshold"):
        ResultsDir(tmp_path / "r", "a" * 64, settings={"pw_file_threshold": False})


def test_eval_row_keeps_the_stored_column_names():
    """EvalRow names the prediction time for what it is; the JSON keeps 'inference_s'."""
    from dataclasses import fields

    from rhocat.evaluate.row import EvalRow

    values = {f.name: i for i, f in enumerate(fields(EvalRow)) if f.name != "reason"}
    row = EvalRow(**values)
    d = row.to_dict()
    assert d["inference_s"] == values["prediction_s"] and d["model_s"] == values["model_s"]
    assert "prediction_s" not in d and "reason" not in d
    # the columns summaries and the report read (every one of them, in the stored order)
    assert list(d) == [
        "id", "split", "formula", "n_atoms", "status", "converged", "s_auc",
        "iterations_saved", "energy_diff_ry", "band_gap_diff_ev",
        "energy_diff_vs_reference_ry", "mae", "nmae", "mae_acs", "nmae_acs", "inference_s",
        "model_s", "scf_s", "baseline_scf_s", "wall_clock_saving", "becsum_source",
        "uncertainty", "shrink", "negative_fraction", "clipped_fraction", "ranks",
        "warm_diago_thr_init", "warm_startingwfc", "baseline", "learned", "reference",
        "baseline_matches_reference", "projection",
    ]  # fmt: skip
    row.reason = "ACS start: did not converge"
    assert row.to_dict()["reason"] == "ACS start: did not converge"
