import pytest
from ase import Atoms
from ase.build import bulk

from rhocat.errors import InputError
from rhocat.qe.inputs import pw_parameters, render_pw_input
from rhocat.qe.protocol import get_protocol


def test_fast_protocol_values_and_kmesh(si_atoms):
    p = pw_parameters(si_atoms, protocol="fast")
    assert p["system"]["smearing"] == "cold" and p["system"]["degauss"] == 0.0275
    assert p["electrons"]["mixing_beta"] == 0.4
    assert p["electrons"]["conv_thr"] == pytest.approx(0.4e-9 * 2)
    # |b| = 2π·√3/a = 2.004 Å⁻¹ → ceil(2.004/0.5) = 5 per direction
    assert p["k_points"] == [5, 5, 5]
    assert pw_parameters(si_atoms, protocol="moderate")["k_points"] == [14, 14, 14]


def test_overrides_flat_and_nested(si_atoms):
    p = pw_parameters(si_atoms, overrides={"ecutwfc": 22.0, "electrons": {"mixing_beta": 0.3}})
    assert p["system"]["ecutwfc"] == 22.0 and p["electrons"]["mixing_beta"] == 0.3
    with pytest.raises(InputError, match="unknown pw.x override"):
        pw_parameters(si_atoms, overrides={"not_a_key": 1})
    with pytest.raises(InputError, match="unknown protocol"):
        get_protocol("slow")


def test_non_periodic_structure_is_refused():
    with pytest.raises(InputError, match="3D periodic"):
        pw_parameters(Atoms("Si2", positions=[[0, 0, 0], [0, 0, 2.3]]))


def test_rendered_input_has_every_card(si_atoms):
    gan = bulk("GaN", "zincblende", a=4.5)
    text = render_pw_input(gan, pw_parameters(gan, calculation="vc-relax"), "debian-pbe")
    for token in (
        "&CONTROL",
        "&SYSTEM",
        "&ELECTRONS",
        "&IONS",
        "&CELL",
        "ATOMIC_SPECIES",
        "CELL_PARAMETERS angstrom",
        "ATOMIC_POSITIONS angstrom",
        "K_POINTS automatic",
        "Ga.pbe-dn-kjpaw_psl.0.2.upf",
        "calculation = 'vc-relax'",
        "tstress = .true.",
    ):
        assert token in text


def test_protocols_are_a_data_file_with_their_source(tmp_path):
    import dataclasses
    import json

    from rhocat.qe.protocol import PROTOCOLS, PROTOCOLS_FILE, load_protocols

    fast = dataclasses.asdict(PROTOCOLS["fast"])
    assert fast == {
        "name": "fast",
        "kpoints_distance": 0.50,
        "smearing": "cold",
        "degauss": 0.0275,
        "mixing_beta": 0.4,
        "conv_thr_per_atom": 0.4e-9,
        "electron_maxstep": 100,
        "etot_conv_thr_per_atom": 2.0e-4,
        "forc_conv_thr": 1.0e-3,
    }
    data = json.loads(PROTOCOLS_FILE.read_text())
    assert "before 2025" in data["source"] and "base.yaml" in data["source"]
    data["protocols"]["fast"]["kpoints_distance"] = 0.30  # aiida-quantumespresso 5.x
    path = tmp_path / "protocols.json"
    path.write_text(json.dumps(data))
    assert load_protocols(path)["fast"].kpoints_distance == 0.30
    assert load_protocols(path)["moderate"] == PROTOCOLS["moderate"]


def test_package_data_ships_every_data_file():
    import tomllib
    from pathlib import Path

    import rhocat

    root = Path(rhocat.__file__).parent
    globs = tomllib.loads((root.parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["rhocat"]
    shipped = {p for g in globs for p in root.glob(g)}
    data = set(root.glob("qe/data/*.json")) | {root / "train" / "presets.json"}
    assert len(data) == 3 and data <= shipped
