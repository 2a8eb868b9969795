import json
import shutil

import pytest

from rhocat.errors import PseudoError
from rhocat.qe.pseudo import DEBIAN_PBE, family_from_directory, load_family

pytestmark = pytest.mark.needs_upf


def test_debian_pbe_covers_its_table_with_valid_files():
    fam = load_family("debian-pbe")
    assert set(fam) == set(DEBIAN_PBE)
    assert fam["Si"].kind == "US" and fam["Si"].z_valence == 4.0
    assert fam["Ag"].kind == "NC"
    assert fam["Ga"].kind == "PAW"
    assert fam["Ni"].kind == "US"  # US preferred over the PAW file Debian also ships
    for p in fam.values():
        assert p.path.is_file() and len(p.md5) == 32
        assert p.ecutrho >= 4 * p.ecutwfc


def test_cutoffs_are_the_maximum_over_species():
    fam = load_family("debian-pbe")
    wfc, rho = fam.cutoffs(["Si", "N", "Si"])
    assert wfc == max(fam["Si"].ecutwfc, fam["N"].ecutwfc)
    assert rho == max(fam["Si"].ecutrho, fam["N"].ecutrho)


def test_missing_element_names_it_and_lists_coverage():
    fam = load_family("debian-pbe")
    with pytest.raises(PseudoError) as err:
        fam.require(["Si", "Au"])
    assert "Au" in str(err.value) and "Si" in str(err.value) and "covers" in str(err.value)


def test_directory_family_with_sssp_json(tmp_path):
    fam = load_family("debian-pbe")
    shutil.copy(fam["Si"].path, tmp_path / "Si.upf")
    meta = {"Si": {"filename": "Si.upf", "md5": fam["Si"].md5, "cutoff_wfc": 25, "dual": 8}}
    (tmp_path / "sssp.json").write_text(json.dumps(meta))
    custom = family_from_directory(tmp_path)
    assert custom["Si"].ecutwfc == 25 and custom["Si"].ecutrho == 200
    meta["Si"]["md5"] = "0" * 32
    (tmp_path / "sssp.json").write_text(json.dumps(meta))
    with pytest.raises(PseudoError, match="md5"):
        family_from_directory(tmp_path)


def test_directory_without_metadata_refuses_two_files_for_one_element(tmp_path):
    fam = load_family("debian-pbe")
    shutil.copy(fam["Si"].path, tmp_path / "Si.pbe-a.UPF")
    shutil.copy(fam["Si"].path, tmp_path / "Si_other.UPF")
    with pytest.raises(PseudoError, match="several files for Si"):
        family_from_directory(tmp_path)
    (tmp_path / "Si_other.UPF").unlink()
    assert family_from_directory(tmp_path)["Si"].kind == "US"


def test_unknown_family_name():
    with pytest.raises(PseudoError, match="unknown pseudopotential family"):
        load_family("no-such-family")


def test_debian_pbe_table_is_a_data_file(tmp_path):
    from rhocat.qe.pseudo import DEBIAN_PBE_FILE, load_debian_pbe

    assert DEBIAN_PBE["Si"][:4] == ("Si.pbe-nl-rrkjus_psl.1.0.0.UPF", "pseudo", 30.0, 8.0)
    assert DEBIAN_PBE["Ag"][2:4] == (50.0, 4.0)  # norm-conserving: dual 4
    data = json.loads(DEBIAN_PBE_FILE.read_text())
    assert "benchmarks/cutoffs.py" in data["source"]
    data["elements"]["Si"]["ecutwfc"] = 45
    (tmp_path / "t.json").write_text(json.dumps(data))
    assert load_debian_pbe(tmp_path / "t.json")["Si"][2] == 45.0
