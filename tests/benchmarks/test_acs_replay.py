"""benchmarks/acs_replay.py: pw.x's own atomic start against rhocat's ACS, on real pw.x."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
from ase.build import bulk

from tests.conftest import LOW_CUTOFF

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import acs_replay  # noqa: E402


@pytest.mark.needs_pw
def test_same_density_but_pw_adds_noise_to_the_paw_occupations(tmp_path):
    """bcc Cr (PAW): the densities agree to round-off; pw.x's occupations carry noise
    off the atomic entries, which rhocat's atomic occupations do not."""
    from rhocat.qe.pseudo import load_family

    family = load_family("debian-pbe")
    atoms = bulk("Cr", "bcc", a=2.88)
    density, becsum = acs_replay.pw_own_start(
        atoms, family, None, tmp_path / "run", overrides=LOW_CUTOFF
    )
    row = acs_replay.compare_with_acs(atoms, family, density, becsum)
    assert row["paw"] and becsum is not None
    assert row["density_relative_l2"] < 1e-8
    assert row["becsum_max_diff_on_atomic_entries"] < 1e-8
    assert 1e-3 < row["becsum_max_diff_elsewhere"] <= 0.05 + 1e-12
    assert 0 < row["becsum_entries_differing"] < row["becsum_entries"]


@pytest.mark.needs_pw
def test_without_paw_species_there_are_no_occupations(tmp_path):
    from rhocat.qe.pseudo import load_family

    family = load_family("debian-pbe")
    atoms = bulk("Si", "diamond", a=5.43)
    density, becsum = acs_replay.pw_own_start(
        atoms, family, None, tmp_path / "run", overrides=LOW_CUTOFF
    )
    row = acs_replay.compare_with_acs(atoms, family, density, becsum)
    assert becsum is None and row["paw"] is False
    assert row["density_relative_l2"] < 1e-8
    assert "becsum_entries" not in row


@pytest.mark.needs_pw
def test_the_noise_comes_from_startingwfc_atomic_plus_random(tmp_path):
    """QE adds the noise in PAW_atomic_becsum only when startingwfc = 'atomic+random' (its
    default): with startingwfc = 'atomic' pw.x's own start is rhocat's ACS, occupations
    included."""
    from rhocat.qe.inputs import apply_overrides
    from rhocat.qe.pseudo import load_family

    family = load_family("debian-pbe")
    atoms = bulk("Cr", "bcc", a=2.88)
    # apply_overrides merges in place: a copy, so the shared LOW_CUTOFF stays as it is
    plain = apply_overrides(copy.deepcopy(LOW_CUTOFF), {"electrons": {"startingwfc": "atomic"}})
    density, becsum = acs_replay.pw_own_start(
        atoms, family, None, tmp_path / "run", overrides=plain
    )
    row = acs_replay.compare_with_acs(atoms, family, density, becsum)
    assert row["paw"] and row["density_relative_l2"] < 1e-8
    assert row["becsum_max_diff_elsewhere"] < 1e-10
    assert row["becsum_entries_differing"] == 0
