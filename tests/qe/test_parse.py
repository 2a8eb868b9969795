"""qe.parse on real pw.x output kept as fixtures (tests/qe/fixtures/pw/<case>/).

The files come from tiny real pw.x 6.7MaX runs (make_fixtures.py in that folder
rewrites them); the expected values are read off the files themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rhocat.qe.gvectors import QE_BOHR_ANGSTROM
from rhocat.qe.parse import final_magnetization, parse_stdout, parse_xml

FIXTURES = Path(__file__).parent / "fixtures" / "pw"


def _stdout(case: str):
    return parse_stdout((FIXTURES / case / "pw.out").read_text())


def _xml(case: str):
    return parse_xml(FIXTURES / case / "data-file-schema.xml")


def test_converged_scf():
    h = _stdout("converged")
    assert h.finished and h.converged and h.error is None
    assert h.iterations == 9 == len(h.scf_accuracy_ry) == len(h.energies_ry)
    assert h.n_scf_cycles == 1
    assert h.scf_accuracy_ry[-1] == 3.8e-11 and h.scf_accuracy_ry[0] > 1e-3
    assert h.energy_ry == -20.24604714 and h.energies_ry[-1] == pytest.approx(h.energy_ry)
    assert h.fermi_energy_ev == 6.7661 and h.n_electrons == 8.0
    assert h.fft_grid == (32, 32, 32) and h.pw_wall_s == 1.44 and h.qe_version == "6.7MaX"
    x = _xml("converged")
    assert x.energy_ry == pytest.approx(-20.24604714, abs=1e-8)
    assert x.fermi_energy_ev == pytest.approx(6.7661, abs=1e-4)
    assert x.n_electrons == 8.0 and x.fft_grid == (32, 32, 32)
    assert x.eigenvalues_ev.shape == (1, 3, 8) and x.kpoint_weights.sum() == pytest.approx(2.0)
    assert 0.5 < x.band_gap_ev < 0.7  # Si at a 2x2x2 mesh
    assert x.symbols == ["Si", "Si"]


def test_cell_in_bohr_is_pw_own_conversion_of_angstrom():
    """The input cell is 2.715 Å per component; pw.x stored it with QE_BOHR_ANGSTROM."""
    assert "2.7150000000 2.7150000000" in (FIXTURES / "converged" / "pw.in").read_text()
    cell = _xml("converged").cell_bohr
    np.testing.assert_allclose(
        cell[0], [0.0, 2.715, 2.715] / np.float64(QE_BOHR_ANGSTROM), rtol=1e-15
    )


def test_not_converged_scf():
    h = _stdout("not_converged")
    assert h.finished and not h.converged and h.error is None
    assert h.iterations == 2 == len(h.scf_accuracy_ry)
    assert h.energy_ry is None and h.fermi_energy_ev is None  # no final "!" line
    assert h.n_electrons == 8.0
    # pw.x still writes its XML: the energy of the last, unconverged iteration
    assert _xml("not_converged").energy_ry == pytest.approx(-20.24387912, abs=1e-8)


def test_crashed_run():
    h = _stdout("crashed")
    assert not h.finished and not h.converged
    assert h.error == "Error in routine check_atoms (1): atoms #   1 and #   2 overlap!"
    assert h.iterations == 0 and h.scf_accuracy_ry == [] and h.energy_ry is None
    assert h.qe_version == "6.7MaX"
    assert not (FIXTURES / "crashed" / "data-file-schema.xml").exists()


def test_paw_scf():
    assert "PAW" in (FIXTURES / "paw" / "pw.out").read_text()
    h = _stdout("paw")
    assert h.converged and h.iterations == 8 and h.energy_ry == -328.01222186
    assert h.n_electrons == 8.0 and h.fermi_energy_ev == 6.2276
    x = _xml("paw")
    assert x.energy_ry == pytest.approx(h.energy_ry, abs=1e-8) and x.symbols == ["Ge", "Ge"]


def test_metal_with_smearing():
    text = (FIXTURES / "metal_smearing" / "pw.out").read_text()
    assert "Marzari-Vanderbilt smearing" in text
    h = _stdout("metal_smearing")
    assert h.converged and h.iterations == 11 and h.n_electrons == 11.0
    assert h.energy_ry == -108.26400195 and h.fermi_energy_ev == 13.7705
    assert h.fft_grid == (24, 24, 24)
    x = _xml("metal_smearing")
    assert x.band_gap_ev == 0.0 and x.eigenvalues_ev.shape == (1, 8, 10)
    assert x.fermi_energy_ev == pytest.approx(13.7705, abs=1e-4)


def test_output_cut_before_job_done_is_not_converged():
    """A run killed after its last iteration (no JOB DONE) does not count as converged."""
    text = (FIXTURES / "converged" / "pw.out").read_text()
    h = parse_stdout(text[: text.index("convergence has been achieved")])
    assert not h.finished and not h.converged
    assert len(h.scf_accuracy_ry) == 9 and h.pw_wall_s is None


def test_the_last_magnetization_printed_is_the_final_one():
    text = (
        "     total magnetization       =     1.20 Bohr mag/cell\n"
        "     absolute magnetization    =     1.50 Bohr mag/cell\n"
        "     total magnetization       =    -0.05 Bohr mag/cell\n"
        "     absolute magnetization    =     0.31 Bohr mag/cell\n"
    )
    assert final_magnetization(text) == (-0.05, 0.31)
    assert final_magnetization("no spin here") == (None, None)
