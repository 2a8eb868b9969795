"""benchmarks/spin_probe.py: pw.x with and without spin polarisation, three mixing_betas."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import spin_probe  # noqa: E402


def test_starting_magnetization_goes_to_the_magnets_in_species_order():
    over = spin_probe.spin_overrides(["Ga", "Fe", "Ga", "As"], 2, 0.404)
    assert over["system"] == {
        "nspin": 2,
        "starting_magnetization(1)": 0.0,
        "starting_magnetization(2)": 0.5,
        "starting_magnetization(3)": 0.0,
    }
    assert over["electrons"] == {"mixing_beta": 0.404, "startingwfc": "atomic"}
    assert spin_probe.spin_overrides(["Cr", "N"], 1, 0.4)["system"] == {"nspin": 1}


def _run(its: int, absolute: float = 0.0, wall: float = 1.0) -> dict:
    return {"iterations": its, "absolute_magnetization": absolute, "pw_wall_s": wall}


def _cell(spin1: tuple, spin2: tuple, absolute: float = 0.0) -> dict:
    keys = [str(b) for b in spin_probe.BETAS]
    return {
        "nspin=1": {k: _run(n) for k, n in zip(keys, spin1, strict=True)},
        "nspin=2": {k: _run(n, absolute, 2.0) for k, n in zip(keys, spin2, strict=True)},
    }


def test_summary_compares_the_spread_of_the_two_settings():
    rows = {
        "chaotic": _cell((12, 20, 30), (15, 16, 15), absolute=2.1),  # ranges 18 and 1
        "steady": _cell((10, 10, 10), (12, 14, 12)),  # ranges 0 and 2, not magnetic
        "lost": _cell((10, None, 10), (9, 9, 9)),  # one run did not converge: left out
    }
    s = spin_probe.summarize(rows)
    assert s["cells"] == 2 and s["not_converged"] == 1
    assert s["nspin=1 runs"] == s["nspin=2 runs"] == 9
    assert s["nspin=1 runs not converged"] == 1 and s["nspin=2 runs not converged"] == 0
    assert s["nspin=1"]["range_mean"] == 9.0 and s["nspin=2"]["range_mean"] == 1.5
    assert s["nspin=1"]["range_max"] == 18 and s["nspin=2"]["range_max"] == 2
    assert s["nspin=1"]["iterations"] == pytest.approx(20.67 + 10.0, abs=0.05)
    assert s["nspin=2"]["magnetic_cells"] == 1
    assert s["nspin=1"]["pw_wall_s"] == 6.0 and s["nspin=2"]["pw_wall_s"] == 12.0


@pytest.mark.needs_pw
def test_bcc_iron_ends_magnetic_only_with_spin_and_a_resume_runs_nothing(tmp_path):
    """bcc Fe (PAW) at low cutoffs: six real pw.x runs; nspin = 2 ends near 2 Bohr
    magnetons, every input carries its beta; a second call with the first's rows runs
    no pw.x."""
    from ase.build import bulk

    from rhocat.qe.inputs import pw_parameters
    from rhocat.qe.pseudo import load_family
    from tests.conftest import LOW_CUTOFF, entry_sample

    atoms = bulk("Fe", "bcc", a=2.83)
    family = load_family("debian-pbe")
    params = pw_parameters(atoms, family, overrides={**LOW_CUTOFF, "k_points": [4, 4, 4]})
    sample = entry_sample(atoms, "Fe", parameters=params)
    out = spin_probe.run_cell(sample, family, tmp_path / "r", {}, 1)
    assert sorted(out) == ["nspin=1", "nspin=2"]
    for setting in out.values():
        assert sorted(setting) == sorted(str(b) for b in spin_probe.BETAS)
        assert all(r["iterations"] and r["iterations"] > 0 for r in setting.values())
    assert all(r["absolute_magnetization"] == 0.0 for r in out["nspin=1"].values())
    assert all(1.0 < r["total_magnetization"] < 3.5 for r in out["nspin=2"].values())
    inputs = {p.parent.name: p.read_text() for p in (tmp_path / "r").rglob("pw.in")}
    assert len(inputs) == 6
    spin = inputs["s2-b0.396"]
    assert "nspin = 2" in spin and "starting_magnetization(1) = 0.5" in spin
    assert "mixing_beta = 0.404" in inputs["s1-b0.404"]
    again = spin_probe.run_cell(sample, family, tmp_path / "r2", out, 1)
    assert again == out and not (tmp_path / "r2").exists()
