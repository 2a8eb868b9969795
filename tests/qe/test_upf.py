"""UPF reader on the real files shipped with Debian's Quantum ESPRESSO."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from rhocat.errors import PseudoError
from rhocat.qe.upf import read_upf

PSEUDO = Path("/usr/share/espresso/pseudo")
EXAMPLES = Path("/usr/share/doc/quantum-espresso/examples")

pytestmark = pytest.mark.needs_upf

PBE_FILES = sorted(
    p for p in PSEUDO.glob("*.UPF") if ".pbe-" in p.name or "PBE" in p.name.upper().split(".")[0]
)
EXAMPLE_FILES = [
    EXAMPLES / "GWW/example04/Ag_ONCV_PBE-1.0.upf.gz",
    EXAMPLES / "PP/simple_transport/scf/As.pbe-n-kjpaw_psl.0.2.upf.gz",
    EXAMPLES / "PP/simple_transport/scf/Ga.pbe-dn-kjpaw_psl.0.2.upf.gz",
    EXAMPLES / "XSpectra/pseudo/Cu_US_PBE_3pj_lowE.UPF.gz",
    EXAMPLES / "CPV/EXX-wf-example/H_HSCV_PBE-1.0.UPF.gz",
]
PARTIAL_RHOATOM = {"C.pbe-mt_gipaw.UPF": 3.5}


@pytest.mark.parametrize("path", PBE_FILES + EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_pbe_file_reads_consistently(path: Path) -> None:
    upf = read_upf(path)
    assert upf.element.isalpha() and upf.element[0].isupper()
    assert path.name.lower().startswith(upf.element.lower())
    assert upf.pseudo_type in ("NC", "US", "PAW")
    assert upf.r.shape == upf.rab.shape == upf.rho_atom.shape == (upf.mesh,)
    assert np.all(np.diff(upf.r) > 0)
    assert np.all(upf.rab >= 0)
    # PP_RHOATOM integrates to (almost) the valence charge; ONCV files are cut
    # at a finite radius (Ag: 18.96 of 19). The GIPAW carbon file stores an
    # excited-configuration density with 3.5 electrons.
    charge = float(np.sum(upf.rho_atom * upf.rab))
    expected = PARTIAL_RHOATOM.get(path.name, upf.z_valence)
    assert charge == pytest.approx(expected, rel=0.01)
    assert all(0 <= lb <= 3 for lb in upf.beta_l)
    if upf.is_paw:
        assert upf.paw_occupations is not None
        assert upf.paw_occupations.shape == (upf.nbeta,)
        assert upf.paw_occupations.sum() == pytest.approx(upf.z_valence)
    else:
        assert upf.paw_occupations is None


def test_known_values_v2_paw() -> None:
    upf = read_upf(PSEUDO / "Ni.pbe-spn-kjpaw_psl.1.0.0.UPF")
    assert (upf.element, upf.pseudo_type, upf.version) == ("Ni", "PAW", "2.0.1")
    assert upf.z_valence == 18.0
    assert upf.mesh == 1195
    assert upf.beta_l == (0, 0, 1, 1, 2, 2)
    assert upf.nh == 18
    np.testing.assert_array_equal(upf.paw_occupations, [2, 2, 6, 0, 8, 0])
    assert upf.ecutwfc == pytest.approx(74.64262742512)
    assert upf.ecutrho == pytest.approx(475.8139515866)
    assert upf.r[0] == pytest.approx(3.256721305551844e-5)


def test_known_values_v1_us() -> None:
    upf = read_upf(PSEUDO / "Rh.pbe-rrkjus_lb.UPF")
    assert (upf.element, upf.pseudo_type, upf.version) == ("Rh", "US", "1")
    assert upf.z_valence == 9.0
    assert upf.mesh == 1491
    assert upf.beta_l == (1, 2, 2)
    assert upf.ecutwfc is None and upf.ecutrho is None  # the file says 0.0
    assert upf.rho_atom[0] == pytest.approx(4.45323908780e-12)
    assert upf.rho_atom[-1] == pytest.approx(1.15329073149e-19)


def test_gzipped_equals_gunzipped(tmp_path: Path) -> None:
    gz = EXAMPLES / "XSpectra/pseudo/Cu_US_PBE_3pj_lowE.UPF.gz"
    plain = tmp_path / "Cu.UPF"
    plain.write_bytes(gzip.decompress(gz.read_bytes()))
    a, b = read_upf(gz), read_upf(plain)
    np.testing.assert_array_equal(a.rho_atom, b.rho_atom)
    assert a.ecutwfc == b.ecutwfc == pytest.approx(26.865)
    assert a.pseudo_type == "US" and a.z_valence == 11.0


def test_uspp_named_kjpaw_is_us() -> None:
    # B.pbe-n-kjpaw_psl.0.1.UPF declares pseudo_type="USPP", is_paw="false".
    assert read_upf(PSEUDO / "B.pbe-n-kjpaw_psl.0.1.UPF").pseudo_type == "US"


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(PseudoError, match="cannot read"):
        read_upf(tmp_path / "missing.UPF")
    foreign = tmp_path / "foreign.UPF"
    foreign.write_text("this is not a pseudopotential\n")
    with pytest.raises(PseudoError, match="not a UPF"):
        read_upf(foreign)
    text = (PSEUDO / "Si.pbe-nl-rrkjus_psl.1.0.0.UPF").read_text()
    cut = tmp_path / "Si_cut.UPF"
    cut.write_text(text[: len(text) // 3])
    with pytest.raises(PseudoError):
        read_upf(cut)
    with pytest.raises(PseudoError, match="not a UPF"):
        read_upf(PSEUDO / "Si.bhs")  # old non-UPF format
