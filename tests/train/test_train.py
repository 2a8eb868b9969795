"""Training: the floor transfers, a tiny model overfits, resume is exact, checkpoints are safe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rhocat.errors import InputError, ModelError
from rhocat.models import predict_delta_rho_g
from rhocat.train import load_model, train_model
from rhocat.train.checkpoint import FORMAT_VERSION, read_checkpoint, save_checkpoint


def test_radial_floor_transfers_to_unseen_combination(real_samples, tmp_path):
    res = train_model(real_samples, model="radial", out=tmp_path / "r.pt", progress=False)
    val = res.val
    # fitted on Si and C only; SiC is an unseen pair: better than the ACS in both measures
    assert val["captured_pct"] > 0.0
    assert val["nmae_pct"] < val["nmae_acs_pct"]
    m = load_model(tmp_path / "r.pt")
    # λ chosen on the validation sample (the presets' "validation"), stored as a number
    from rhocat.models.radial import RIDGE_GRID

    curve = res.model.ridge_curve
    assert set(curve) == set(RIDGE_GRID) and m.config["ridge_lambda"] in RIDGE_GRID
    assert curve[m.config["ridge_lambda"]] == max(curve.values())
    assert val["captured_pct"] == pytest.approx(max(curve.values()), abs=1e-6)
    s = real_samples[3]
    np.testing.assert_allclose(
        predict_delta_rho_g(m, s.numbers, s.positions_bohr, s.cell_bohr, s.miller),
        predict_delta_rho_g(res.model, s.numbers, s.positions_bohr, s.cell_bohr, s.miller),
    )


def test_tiny_basis_model_overfits_one_structure(real_samples, tiny_basis):
    # a basis whose per-structure least-squares ceiling is 99.998% of Δρ's Hartree energy
    tiny_basis["model"]["basis"] = {"l_max": 4, "n_alpha": 8, "alpha_min": 0.2, "ratio": 2.0}
    tiny_basis["train"].update(lr=5e-3, lr_final_factor=0.2)
    res = train_model(
        [real_samples[0]], model="basis", config=tiny_basis, steps=150, progress=False
    )
    first, last = res.losses[0], min(res.losses[-5:])
    assert last < first / 100, (first, last)


def test_resume_gives_the_same_next_loss(real_samples, tiny_basis, tmp_path):
    full = train_model(
        real_samples, "basis", tiny_basis, steps=6, out=tmp_path / "a.pt", progress=False
    )
    part = train_model(
        real_samples,
        "basis",
        tiny_basis,
        steps=6,
        out=tmp_path / "b.pt",
        progress=False,
        stop_after=4,
    )
    assert len(part.losses) == 4
    rest = train_model(
        real_samples,
        "basis",
        tiny_basis,
        steps=6,
        out=tmp_path / "b.pt",
        progress=False,
        resume=True,
    )
    assert len(rest.losses) == 2
    np.testing.assert_allclose(part.losses + rest.losses, full.losses, rtol=1e-12)
    assert (tmp_path / "b.metrics.csv").read_text().count("\n") == 7  # header + 6 steps


def test_elapsed_seconds_count_the_runs_before_each_resume(real_samples, tiny_basis, tmp_path):
    from rhocat.train.loop import read_metrics_csv

    out = tmp_path / "m.pt"
    kw = dict(steps=6, out=out, progress=False)
    train_model(real_samples, "basis", tiny_basis, stop_after=2, **kw)
    train_model(real_samples, "basis", tiny_basis, stop_after=2, resume=True, **kw)
    train_model(real_samples, "basis", tiny_basis, resume=True, **kw)
    rows = read_metrics_csv(tmp_path / "m.metrics.csv")
    elapsed = [float(r["elapsed_s"]) for r in rows]
    assert [int(r["step"]) for r in rows] == list(range(6))
    # one clock through three runs: no row restarts from the resumed run's own zero
    assert all(b > a for a, b in zip(elapsed, elapsed[1:], strict=False)), elapsed


def test_checkpoint_round_trip_and_metadata(real_samples, tiny_basis, tmp_path):
    meta = {
        "pseudo_family": "debian-pbe",
        "pseudo_md5": {"Si": "a" * 32, "C": "b" * 32},
        "qe_version": "6.7",
    }
    res = train_model(
        real_samples,
        "basis",
        tiny_basis,
        steps=2,
        out=tmp_path / "m.pt",
        metadata=meta,
        progress=False,
    )
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    assert (
        raw["format_version"] == FORMAT_VERSION
        and raw["kind"] == "basis"
        and raw["elements"] == [6, 14]
    )
    m = load_model(tmp_path / "m.pt")
    assert m.metadata["pseudo_md5"]["Si"] == "a" * 32 and m.metadata["qe_version"] == "6.7"
    s = real_samples[3]
    np.testing.assert_allclose(
        predict_delta_rho_g(m, s.numbers, s.positions_bohr, s.cell_bohr, s.miller),
        predict_delta_rho_g(res.model, s.numbers, s.positions_bohr, s.cell_bohr, s.miller),
        atol=1e-14,
    )
    with pytest.raises(ModelError, match="never saw element"):
        m.check_elements(["Si", "Ge"])
    with pytest.raises(ModelError, match="differ"):
        m.check_pseudos({"Si": "c" * 32})
    m.check_pseudos({"Si": "a" * 32})


class _Foreign:
    pass


def test_bad_checkpoints_are_refused(tmp_path, real_samples, tiny_basis):
    train_model(real_samples[:1], "radial", out=tmp_path / "ok.pt", progress=False)
    good = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelError, match="truncated"):
        load_model(tmp_path / "trunc.pt")
    content = read_checkpoint(tmp_path / "ok.pt")
    save_checkpoint(tmp_path / "v0.pt", {**content, "format_version": 0})
    with pytest.raises(ModelError, match="version 0"):
        load_model(tmp_path / "v0.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(ModelError, match="not a rhocat model"):
        load_model(tmp_path / "foreign.pt")
    torch.save({"format": "rhocat-model", "obj": _Foreign()}, tmp_path / "pickle.pt")
    with pytest.raises(ModelError, match="pickled objects"):
        load_model(tmp_path / "pickle.pt")
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "missing.pt")


def test_config_errors():
    with pytest.raises(InputError, match="unknown train option"):
        train_model([], "basis", {"train": {"stepz": 3}})
    with pytest.raises(InputError, match="neither a preset"):
        train_model([], "basis", "medium")
    with pytest.raises(InputError, match="pointwise"):
        train_model([], "pointwise", {"train": {"loss": "hartree"}})


def test_presets_are_a_data_file(tmp_path):
    import json

    from rhocat.train.config import PRESETS_FILE, load_presets, resolve_config

    data = json.loads(PRESETS_FILE.read_text())
    assert set(data["presets"]) == {"radial", "basis", "pointwise"} and data["source"]
    cfg = resolve_config("basis", "small")
    assert cfg["model"]["basis"] == {"l_max": 4, "n_alpha": 10, "alpha_min": 0.25, "ratio": 1.8}
    assert cfg["train"]["steps"] == 1500 and cfg["train"]["loss"] == "hartree"
    data["presets"]["basis"]["small"]["train"]["steps"] = 7
    (tmp_path / "p.json").write_text(json.dumps(data))
    assert load_presets(tmp_path / "p.json")["basis"]["small"]["train"]["steps"] == 7


def test_pointwise_model_learns_on_real_space_samples(real_samples, tmp_path):
    cfg = {
        "model": {"hidden": 16, "n_rbf": 8, "max_neighbours": 16},
        "train": {"lr": 1e-2, "probes_per_step": 512, "val_every": 60},
    }
    c_diamond = [real_samples[1], real_samples[3]]
    res = train_model(c_diamond, "pointwise", cfg, steps=60, out=tmp_path / "p.pt", progress=False)
    assert np.mean(res.losses[-10:]) < 0.5 * np.mean(res.losses[:5]), res.losses
    m = load_model(tmp_path / "p.pt")
    assert m.kind == "pointwise" and np.isfinite(res.val["nmae_pct"])


def test_basis_baseline_ridge_chosen_on_validation(real_samples, tiny_basis):
    """baseline_ridge_lambda "validation": the members' l = 0 baseline starts from the ridge
    fit whose λ the validation split prefers, and the config records that λ."""
    from rhocat.models.radial import RIDGE_GRID, fit_radial_table_choosing

    tiny_basis["model"]["baseline_ridge_lambda"] = "validation"
    res = train_model(real_samples, model="basis", config=tiny_basis, steps=1, progress=False)
    lam = res.model.config["baseline_ridge_lambda"]
    train = [s for s in real_samples if s.split == "train"]
    val = [s for s in real_samples if s.split == "val"]
    _, want, curve = fit_radial_table_choosing(
        train, val, res.model.spec, res.model.elements, "validation"
    )
    assert lam == want and lam in RIDGE_GRID and curve[lam] == max(curve.values())


@pytest.mark.parametrize("mode", ["gate", "radial"])
def test_a_trained_pair_term_moves_off_zero_and_survives_its_checkpoint(
    real_samples, tiny_basis, tmp_path, mode
):
    tiny_basis["model"].update(element_features=True, pair_features=2, pair_mode=mode)
    res = train_model(
        real_samples, "basis", tiny_basis, steps=4, out=tmp_path / "p.pt", progress=False
    )
    out_layer = "pair.layer1" if mode == "gate" else "pair_radial.layer1"
    trained = {k: v for k, v in res.model.state_dict().items() if out_layer in k}
    assert trained and all(v.abs().max() > 0 for v in trained.values())  # started at zero
    m = load_model(tmp_path / "p.pt")
    assert m.config["pair_mode"] == mode
    s = real_samples[3]
    np.testing.assert_allclose(
        predict_delta_rho_g(m, s.numbers, s.positions_bohr, s.cell_bohr, s.miller),
        predict_delta_rho_g(res.model, s.numbers, s.positions_bohr, s.cell_bohr, s.miller),
    )
