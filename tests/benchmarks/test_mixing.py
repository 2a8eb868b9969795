"""benchmarks/mixing.py: the ACS and a warm start, repeated, under pw.x mixing settings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import mixing  # noqa: E402


def test_a_setting_is_a_name_a_mode_and_a_beta():
    assert mixing.parse_setting("tf=local-TF:0.4") == (
        "tf", {"mixing_mode": "local-TF", "mixing_beta": 0.4}
    )  # fmt: skip
    assert [mixing.parse_setting(s)[0] for s in mixing.DEFAULT_SETTINGS] == [
        "protocol", "local-TF", "beta0.2"
    ]  # fmt: skip


BAD_SETTINGS = ["plain:0.4", "x=broyden:0.4", "x=plain", "x=plain:0", "x=TF:1.5", "x=plain:abc"]


@pytest.mark.parametrize("text", BAD_SETTINGS)
def test_a_bad_setting_is_refused_before_any_run(text, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        mixing.main(["m.pt", "--ids", "x", "--setting", text, "-o", str(tmp_path / "o.json")])
    assert exc.value.code == 2 and repr(text) in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def _cell(acs: tuple, warm: tuple) -> dict:
    """A row of run_cell: iterations at ε = -1e-3, 0, +1e-3 per start."""
    keys = ("-0.001", "0.0", "0.001")
    return {"acs": dict(zip(keys, acs, strict=True)), "warm": dict(zip(keys, warm, strict=True))}


def test_summary_pairs_the_means_of_each_cells_runs():
    rows = {
        "a": _cell((10, 12, 14), (9, 9, 9)),  # means 12 and 9: saves 25%, ranges 4 and 0
        "b": _cell((10, 10, 10), (10, 13, 10)),  # means 10 and 11: -10%, ranges 0 and 3
        "c": _cell((10, None, 10), (5, 5, 5)),  # a run did not converge: left out
    }
    s = mixing.summarize(rows)
    assert s["cells"] == 2 and s["not_converged"] == 1
    assert s["acs_iterations"] == 22.0 and s["warm_iterations"] == 20.0
    assert s["acs_range_mean"] == 2.0 and s["warm_range_mean"] == 1.5
    assert s["acs_range_max"] == 4 and s["warm_range_max"] == 3
    assert s["saved_per_cell_pct"] == pytest.approx(7.5)
    assert s["slower_cells"] == 1
    assert mixing.summarize({}) == {"cells": 0}


@pytest.mark.needs_pw
def test_six_runs_per_cell_under_the_mixing_given_and_a_resume_runs_none(tmp_path):
    """bcc Cr (PAW): the ACS folders carry the atomic occupations, the warm ones those the
    card asks for (the model's own, as the shipped card names them, or the atomic ones);
    every pw.x input takes the setting; a second call with the first's result makes no
    run."""
    from ase.build import bulk

    from rhocat.predict.core import warm_occupations
    from rhocat.pretrained import load_pretrained
    from rhocat.qe.inputs import pw_parameters
    from rhocat.qe.pseudo import load_family
    from tests.conftest import LOW_CUTOFF, entry_sample

    atoms = bulk("Cr", "bcc", a=2.88)
    family = load_family("debian-pbe")
    sample = entry_sample(
        atoms, "Cr", parameters=pw_parameters(atoms, family, overrides=LOW_CUTOFF)
    )
    from first_threshold import with_occupations

    model = load_pretrained()
    folders = mixing.start_folders(model, sample, family, tmp_path / "f")
    assert sorted(folders) == sorted((s, e) for s in mixing.STARTS for e in mixing.EPSILONS)
    paw = {k: (v / "paw.txt").read_text() for k, v in folders.items()}
    assert paw[("acs", -1e-3)] == paw[("acs", 0.0)] == paw[("acs", 1e-3)]
    rho = {k: (v / "charge-density.dat").read_bytes() for k, v in folders.items()}
    assert rho[("warm", 0.0)] != rho[("acs", 0.0)]
    warm_paw = {}
    for card in ("model", "atomic"):
        card_folders = mixing.start_folders(with_occupations(model, card), sample, family,
                                            tmp_path / card)  # fmt: skip
        warm_paw[card] = (card_folders[("warm", 0.0)] / "paw.txt").read_text()
    assert warm_paw["atomic"] == paw[("acs", 0.0)]  # the atomic occupations of the ACS
    assert warm_paw["model"] != paw[("acs", 0.0)]  # the model's own
    assert paw[("warm", 0.0)] == warm_paw[warm_occupations(model)]  # the shipped card's

    setting = {"mixing_mode": "local-TF", "mixing_beta": 0.3}
    out = mixing.run_cell(model, sample, family, tmp_path / "r", setting, {}, 1)
    assert {s: sorted(out[s]) for s in out} == {
        s: ["-0.001", "0.0", "0.001"] for s in mixing.STARTS
    }
    assert all(isinstance(n, int) and n > 0 for s in out.values() for n in s.values())
    inputs = [p.read_text() for p in (tmp_path / "r").rglob("*.in")]
    assert len(inputs) == 6
    assert all("local-TF" in text and "0.3" in text for text in inputs)
    again = mixing.run_cell(model, sample, family, tmp_path / "r2", setting, out, 1)
    assert again == out and not (tmp_path / "r2").exists()
