"""Training an ensemble on real pw.x densities, resuming it, and predicting with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rhocat.errors import InputError
from rhocat.models.ensemble import SHRINK_GRID
from rhocat.train import load_model, train_model
from rhocat.train.ensemble import member_config, member_path, train_ensemble, train_member


def test_ensemble_trains_calibrates_on_val_and_resumes(real_samples, tiny_basis, tmp_path):
    out = tmp_path / "ens.pt"
    ens, metrics = train_ensemble(
        real_samples, n_members=2, config=tiny_basis, steps=4, out=out, progress=False
    )
    assert ens.kind == "ensemble" and len(ens.members) == 2
    assert member_path(out, 0).is_file() and member_path(out, 1).is_file()
    assert metrics["shrink_c"] in SHRINK_GRID
    assert set(metrics["shrink_scores_val_captured_pct"]) == set(SHRINK_GRID)
    # the two seeds give different members
    a, b = (load_model(member_path(out, k)) for k in range(2))
    pa = dict(a.named_parameters())
    assert any(not np.allclose(p.detach(), pa[n].detach()) for n, p in b.named_parameters())
    back = load_model(out)
    assert back.kind == "ensemble" and back.config["shrink_c"] == metrics["shrink_c"]
    # a rerun loads the members instead of training them again
    stamps = [member_path(out, k).stat().st_mtime_ns for k in range(2)]
    train_ensemble(real_samples, n_members=2, config=tiny_basis, steps=4, out=out, progress=False)
    assert [member_path(out, k).stat().st_mtime_ns for k in range(2)] == stamps


def test_an_interrupted_member_is_continued_not_taken_as_finished(
    real_samples, tiny_basis, tmp_path
):
    """Its best checkpoint exists after the first validation; the rerun still completes it."""
    from rhocat.train.checkpoint import read_checkpoint
    from rhocat.train.loop import output_paths

    out = tmp_path / "ens.pt"
    tiny_basis["train"]["val_every"] = 1
    kw = dict(n_members=2, config=tiny_basis, steps=4, out=out, progress=False)
    train_ensemble(real_samples, stop_after=2, **kw)  # both members stop at step 2 of 4
    assert member_path(out, 0).is_file()  # the best checkpoint of an unfinished member
    _, last, csv = output_paths(member_path(out, 1))
    assert read_checkpoint(last)["train_state"]["step"] == 2
    train_ensemble(real_samples, **kw)
    for k in range(2):
        _, last, csv = output_paths(member_path(out, k))
        assert read_checkpoint(last)["train_state"]["step"] == 4
        assert [int(r.split(",")[0]) for r in csv.read_text().splitlines()[1:]] == [0, 1, 2, 3]


def test_ensemble_needs_two_members(real_samples, tiny_basis, tmp_path):
    with pytest.raises(InputError, match="at least 2 members"):
        train_ensemble(real_samples, n_members=1, config=tiny_basis, out=tmp_path / "e.pt")


def test_prediction_records_uncertainty_and_shrink(real_samples, tiny_basis, tmp_path):
    from ase.build import bulk

    from rhocat.predict.core import PREDICTION_JSON, predict_restart

    out = tmp_path / "ens.pt"
    train_ensemble(real_samples, n_members=2, config=tiny_basis, steps=4, out=out, progress=False)
    model = load_model(out)
    res = predict_restart(
        model, bulk("SiC", "zincblende", a=4.36), out_dir=tmp_path / "sic.save",
        overrides={"system": {"ecutwfc": 20.0, "ecutrho": 80.0}},
    )  # fmt: skip
    assert res.uncertainty is not None and res.uncertainty >= 0.0
    assert 0.0 < res.shrink <= 1.0
    c = model.config["shrink_c"]
    assert res.shrink == pytest.approx(1.0 / (1.0 + c * res.uncertainty**2))
    saved = json.loads((tmp_path / "sic.save" / PREDICTION_JSON).read_text())
    assert saved["uncertainty"] == pytest.approx(res.uncertainty)
    assert saved["shrink"] == pytest.approx(res.shrink)


def test_no_correction_beyond_the_training_cutoff(real_samples, tiny_basis, tmp_path):
    from ase.build import bulk

    from rhocat.predict.core import model_prediction
    from rhocat.qe.gvectors import g_cartesian, miller_indices
    from rhocat.qe.start import cell_bohr
    from rhocat.train import train_model

    res = train_model(real_samples, "basis", tiny_basis, steps=2, progress=False)
    model = res.model
    assert model.metadata["train_ecutrho_ry"] == pytest.approx(80.0, rel=0.05)
    sic = bulk("SiC", "zincblende", a=4.36)
    miller = miller_indices(cell_bohr(sic), 200.0)
    delta, info = model_prediction(model, sic, miller)
    g = g_cartesian(cell_bohr(sic), miller)
    g2 = np.einsum("ij,ij->i", g, g)
    inside = g2 <= info["delta_ecutrho_ry"]
    assert np.all(delta[~inside] == 0.0) and (~inside).sum() > len(miller) // 2
    assert np.abs(delta[inside]).max() > 0.0


def test_cutoff_fallback_for_elements_measured_not_to_transfer(real_samples, tiny_basis, tmp_path):
    import warnings

    from ase.build import bulk

    from rhocat.predict.core import cutoff_fallback, predict_restart
    from rhocat.qe.pseudo import load_family
    from rhocat.train import train_model

    model = train_model(real_samples, "basis", tiny_basis, steps=2, progress=False).model
    fam = load_family("debian-pbe")
    assert cutoff_fallback(model, ["Si", "C"], fam, 400.0) is None  # transfers (measured)
    assert cutoff_fallback(model, ["Cr", "Si"], fam, 80.0) is None  # the training cutoff
    assert "Cr" in cutoff_fallback(model, ["Cr", "Si"], fam, 400.0)
    crsi = bulk("CrSi", "cesiumchloride", a=2.8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = predict_restart(model, crsi, out_dir=tmp_path / "crsi.save", allow_unseen=True,
                              ecutrho_ry=240.0)  # fmt: skip
    assert res.fallback and "Cr" in res.fallback and res.shrink == 0.0
    assert res.becsum_source == "atomic-fallback"  # Cr is PAW: pw.x's own occupations
    assert any("the start is the ACS" in str(w.message) for w in caught)


def test_a_stopped_member_is_resumed_not_restarted(real_samples, tiny_basis, tmp_path):
    whole, _ = train_member(
        real_samples, tmp_path / "a.pt", seed=3, element_features=True, steps=6, config=tiny_basis
    )
    # a member stopped after 4 of its 6 steps; its first steps took a larger learning rate,
    # so a restart would give ``whole`` again and only a resumed run differs from it
    stopped = tmp_path / "b.pt"
    cfg = member_config(tiny_basis, 3, True)
    cfg["train"]["lr"] *= 10
    train_model(real_samples, "basis", cfg, steps=6, out=stopped, progress=False, stop_after=4)
    assert not stopped.with_suffix(".json").exists()
    resumed, train_s = train_member(
        real_samples, stopped, seed=3, element_features=True, steps=6, config=tiny_basis
    )
    s = real_samples[3]
    args = (s.numbers, s.positions_bohr, s.cell_bohr, s.miller)
    gap = np.abs(resumed.delta_rho_g(*args) - whole.delta_rho_g(*args)).max()
    assert gap > 1e-6 * np.abs(whole.delta_rho_g(*args)).max()
    record = json.loads(stopped.with_suffix(".json").read_text())
    assert record["train_s"] == train_s > 0
