"""Fine-tuning a trained model or ensemble (``init_from``) on real pw.x densities."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rhocat.cli.main import main
from rhocat.errors import InputError, ModelError
from rhocat.train import load_model, train_model
from rhocat.train.ensemble import member_path, train_ensemble
from rhocat.train.loop import output_paths


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _frozen(cfg: dict) -> dict:
    """``cfg`` with a learning rate of 0: a run that must leave the weights as they start."""
    cfg = copy.deepcopy(cfg)
    cfg["train"]["lr"] = 0.0
    return cfg


@pytest.fixture(scope="module")
def trained(real_samples, tmp_path_factory):
    """A tiny basis model trained for 4 steps (the model to fine-tune), and its file."""
    from tests.train.conftest import _TINY_BASIS

    out = tmp_path_factory.mktemp("ft") / "base.pt"
    res = train_model(real_samples, "basis", copy.deepcopy(_TINY_BASIS), steps=4, out=out,
                      progress=False)  # fmt: skip
    return res.model, out


def test_a_fine_tuning_run_starts_from_the_given_weights(real_samples, trained, tiny_basis):
    base, path = trained
    kept = train_model(real_samples, "basis", _frozen(tiny_basis), steps=2, init_from=path,
                       progress=False).model  # fmt: skip
    assert _same_weights(kept, base)  # baseline table included (a buffer)
    assert kept.metadata["fine_tuned_from"] == str(path)
    # warm-start settings measured for one model are not another's
    carded = copy.deepcopy(base)
    carded.metadata.update(warm_diago_thr_init=0.01, warm_occupations="atomic")
    res = train_model(real_samples, "basis", _frozen(tiny_basis), steps=1, init_from=carded,
                      progress=False)  # fmt: skip
    assert not any(k.startswith("warm_") for k in res.model.metadata)
    assert res.model.metadata["pseudo_md5"] == base.metadata["pseudo_md5"]
    # the same frozen run from scratch starts elsewhere (seeded new weights)
    fresh = train_model(real_samples, "basis", _frozen(tiny_basis), steps=2, progress=False)
    assert not _same_weights(fresh.model, base)
    # the model's config is the starting model's, not the run's
    other = copy.deepcopy(tiny_basis)
    other["model"]["hidden_muls"] = [2, 2, 2]
    res = train_model(real_samples, "basis", _frozen(other), steps=2, init_from=base,
                      progress=False)  # fmt: skip
    assert res.model.config["hidden_muls"] == base.config["hidden_muls"]
    assert res.model.metadata["fine_tuned_from"] == "a model in memory"


def test_fine_tuning_moves_the_weights_on_a_fresh_schedule(
    real_samples, trained, tiny_basis, tmp_path
):
    base, _ = trained
    out = tmp_path / "ft.pt"
    res = train_model(real_samples, "basis", tiny_basis, steps=3, out=out, init_from=base,
                      progress=False)  # fmt: skip
    assert not _same_weights(res.model, base)
    rows = output_paths(out)[2].read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [0, 1, 2]  # step 0, not the base's 4
    assert float(rows[0].split(",")[2]) == pytest.approx(tiny_basis["train"]["lr"])
    # the starting model is not changed in place
    again = train_model(real_samples, "basis", _frozen(tiny_basis), steps=1, init_from=base,
                        progress=False).model  # fmt: skip
    assert _same_weights(again, base)


def test_fine_tuning_refuses_what_it_cannot_start_from(real_samples, trained, tiny_basis):
    base, _ = trained
    si_only = [s for s in real_samples if s.id != "c"]
    small = train_model(si_only, "basis", tiny_basis, steps=1, progress=False).model
    with pytest.raises(InputError, match="not trained on C"):
        train_model(real_samples, "basis", tiny_basis, steps=1, init_from=small, progress=False)
    with pytest.raises(InputError, match="cannot fine-tune a 'basis' model as 'pointwise'"):
        train_model(real_samples, "pointwise", steps=1, init_from=base, progress=False)
    other_family = copy.deepcopy(base)
    other_family.metadata["pseudo_family"] = "sssp-efficiency"
    with pytest.raises(InputError, match="'sssp-efficiency' pseudopotentials, the data"):
        train_model(real_samples, "basis", tiny_basis, steps=1, init_from=other_family,
                    metadata={"pseudo_family": "debian-pbe"}, progress=False)  # fmt: skip
    other_file = copy.deepcopy(base)
    other_file.metadata["pseudo_md5"] = {**base.metadata["pseudo_md5"], "C": "0" * 32}
    with pytest.raises(InputError, match="other pseudopotential files for C"):
        train_model(real_samples, "basis", tiny_basis, steps=1, init_from=other_file,
                    progress=False)  # fmt: skip
    radial = train_model(real_samples, "radial", progress=False).model
    with pytest.raises(InputError, match="closed form"):
        train_model(real_samples, "radial", init_from=radial, progress=False)


def test_an_ensemble_is_fine_tuned_member_by_member(real_samples, tiny_basis, tmp_path):
    ens, _ = train_ensemble(real_samples, n_members=2, config=tiny_basis, steps=2,
                            out=tmp_path / "ens.pt", progress=False)  # fmt: skip
    out = tmp_path / "ft.pt"
    ft, _ = train_ensemble(real_samples, n_members=2, config=_frozen(tiny_basis), steps=1,
                           out=out, progress=False, init_from=tmp_path / "ens.pt")  # fmt: skip
    for k in range(2):
        assert _same_weights(ft.members[k], ens.members[k])
        meta = load_model(member_path(out, k)).metadata
        assert meta["fine_tuned_from"] == f"{tmp_path / 'ens.pt'}, member {k}"
        assert "fine_tune_source" not in meta
    assert not _same_weights(ft.members[0], ft.members[1])
    with pytest.raises(InputError, match="has 2 members, fewer than 3"):
        train_ensemble(real_samples, n_members=3, config=tiny_basis, steps=1,
                       out=tmp_path / "x.pt", progress=False, init_from=ens)  # fmt: skip
    with pytest.raises(InputError, match="starts from an ensemble"):
        train_ensemble(real_samples, n_members=2, config=tiny_basis, steps=1,
                       out=tmp_path / "y.pt", progress=False, init_from=ens.member(0))  # fmt: skip
    with pytest.raises(InputError, match="member by member"):
        train_model(real_samples, "basis", tiny_basis, steps=1, init_from=ens, progress=False)


def test_an_ensemble_member_copy_predicts_as_the_member(real_samples, tiny_basis, tmp_path):
    ens, _ = train_ensemble(real_samples, n_members=2, config=tiny_basis, steps=2,
                            out=tmp_path / "ens.pt", progress=False)  # fmt: skip
    s = real_samples[-1]
    for k in range(2):
        one = ens.member(k)
        want = ens.members[k].delta_rho_g(s.numbers, s.positions_bohr, s.cell_bohr, s.g_cart)
        got = one.delta_rho_g(s.numbers, s.positions_bohr, s.cell_bohr, s.g_cart)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    with pytest.raises(ModelError, match="no member 2"):
        ens.member(2)


def test_cli_fine_tunes_every_member_of_an_ensemble(
    real_samples, tiny_basis, tmp_path, capsys, monkeypatch
):
    from tests.train.test_cli_train import _dataset

    data = _dataset(tmp_path / "ds", real_samples)
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(tiny_basis))
    base = tmp_path / "ens.pt"
    common = [str(data), "--config", str(cfg), "--steps", "2", "--no-progress"]
    assert main(["train", *common, "-o", str(base), "--ensemble", "2"]) == 0
    capsys.readouterr()
    ft = tmp_path / "ft.pt"
    import rhocat.train.checkpoint as checkpoint

    reads, read = [], checkpoint.read_checkpoint
    monkeypatch.setattr(
        checkpoint, "read_checkpoint", lambda p, *a, **k: reads.append(p) or read(p, *a, **k)
    )
    assert main(["train", *common, "-o", str(ft), "--init-from", str(base), "--lr", "2e-4"]) == 0
    assert [Path(p) for p in reads].count(base) == 1  # the checkpoint to fine-tune, read once
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "ensemble" and summary["n_members"] == 2
    first = output_paths(member_path(ft, 0))[2].read_text().splitlines()[1].split(",")
    assert float(first[2]) == pytest.approx(2e-4)  # --lr over the config's 1e-2
    assert main(["train", *common, "-o", str(tmp_path / "w.pt"), "--lr", "0"]) == 2
    assert "--lr must be positive" in capsys.readouterr().err
    assert load_model(member_path(ft, 1)).metadata["fine_tuned_from"] == f"{base}, member 1"
    missing = tmp_path / "none.pt"
    assert main(["train", *common, "-o", str(tmp_path / "z.pt"), "--init-from", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "z.pt").exists()
