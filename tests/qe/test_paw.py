"""paw.txt (PAW becsum): byte-identical round trip of pw.x's own files, format, bad input."""
# ruff: noqa: F811  (pytest fixtures imported from conftest_files are used as arguments)

from __future__ import annotations

import numpy as np
import pytest
from conftest_files import acs_dumps, pseudos, qe_root  # noqa: F401  (session fixtures)

from rhocat.errors import DensityFileError
from rhocat.qe.paw import Becsum, paw_txt_text, read_paw_txt, write_paw_txt

PAW_CASES = {"ni": 1, "gaas": 2}  # name -> nat


@pytest.mark.parametrize("name", list(PAW_CASES))
def test_round_trip_is_byte_identical(name, acs_dumps, tmp_path) -> None:
    src = acs_dumps[name].save / "paw.txt"
    bec = read_paw_txt(src, nat=PAW_CASES[name])
    out = tmp_path / "paw.txt"
    write_paw_txt(out, bec)
    assert out.read_bytes() == src.read_bytes()
    assert bec.nspin == 1 and bec.nat == PAW_CASES[name]


def test_shape_and_values_of_pw_file(acs_dumps) -> None:
    # Ni psl 1.0.0: betas l = 0,0,1,1,2,2 -> nh = 18; occupations 2,2,6,0,8,0
    bec = read_paw_txt(acs_dumps["ni"].save / "paw.txt", nat=1)
    assert bec.nhm == 18 and bec.values.shape == (1, 1, 171)
    diag = np.diag(bec.matrix(0))
    expected = [2, 2, 2, 2, 2, 0, 0, 0, 1.6, 1.6, 1.6, 1.6, 1.6, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(diag, expected, atol=1e-12)
    assert np.abs(bec.matrix(0) - np.diag(diag)).max() < 1e-12


def test_gfortran_list_directed_format() -> None:
    values = [0.0, 2.0000000000000013, -4.4848384265587063e-15, 0.5, 10.5, 1.6, -0.25, 1e17]
    text = paw_txt_text(Becsum(np.array(values + [0.0, 0.0])[None, None, :]))  # nhm = 4
    items = [text[i : i + 26] for i in range(0, len(text) - 1, 26)]
    assert text.endswith("\n") and len(text) == 26 * 10 + 1
    assert items[0] == "   0.0000000000000000     "
    assert items[1] == "   2.0000000000000013     "
    assert items[2] == "  -4.4848384265587063E-015"
    assert items[3] == "  0.50000000000000000     "
    assert items[4] == "   10.500000000000000     "
    assert items[5] == "   1.6000000000000001     "
    assert items[6] == " -0.25000000000000000     "
    assert items[7] == "   1.0000000000000000E+017"


def test_reader_accepts_other_list_directed_layouts(tmp_path) -> None:
    p = tmp_path / "paw.txt"
    p.write_text("1.0D0, 2*0.0\n 0.5\n 3*0.25E0\n 0\n 0 0 0 0\n")  # 12 values: no nhm fits
    with pytest.raises(DensityFileError, match="do not fit"):
        read_paw_txt(p, nat=1)
    p.write_text("1.0D0, 2*0.0\n 0.5\n 2*0.25E0\n")  # 6 values = nhm 3
    bec = read_paw_txt(p, nat=1)
    np.testing.assert_allclose(bec.values.ravel(), [1, 0, 0, 0.5, 0.25, 0.25])


def test_bad_files(acs_dumps, tmp_path) -> None:
    src = (acs_dumps["gaas"].save / "paw.txt").read_text()
    cut = tmp_path / "cut.txt"
    cut.write_text(src[: len(src) // 3])
    with pytest.raises(DensityFileError):
        read_paw_txt(cut, nat=2)
    # the right file for another structure (3 atoms)
    with pytest.raises(DensityFileError, match="nat=3"):
        read_paw_txt(acs_dumps["gaas"].save / "paw.txt", nat=3)
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("hello world\n")
    with pytest.raises(DensityFileError, match="not a pw.x paw.txt"):
        read_paw_txt(garbage, nat=1)
    with pytest.raises(DensityFileError, match="cannot read"):
        read_paw_txt(tmp_path / "missing.txt", nat=1)


def test_matrix_of_a_species_with_fewer_projectors_than_nhm():
    from rhocat.qe.paw import Becsum

    nhm, nh = 4, 2
    row = np.zeros(nhm * (nhm + 1) // 2)
    row[:3] = [1.0, 0.4, 2.0]  # (0,0), (0,1), (1,1) of the small species, packed first
    bec = Becsum(row[None, None, :])
    m = bec.matrix(0, nh=nh)
    assert m.shape == (2, 2)
    assert np.allclose(m, [[1.0, 0.2], [0.2, 2.0]])
