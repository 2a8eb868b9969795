"""Structures from anywhere: pymatgen ``Structure`` and structure files into the Python API.

AiiDA ``StructureData`` needs a profile: it is tested in tests/predict/test_aiida_warm.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from pymatgen.core import Lattice, Structure

from rhocat.errors import InputError
from rhocat.structures.convert import to_atoms
from tests.conftest import LOW_CUTOFF


def _pymatgen_si() -> Structure:
    a = 5.43
    lattice = Lattice([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]])
    return Structure(lattice, ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])


def test_pymatgen_structure_becomes_the_same_atoms():
    atoms = to_atoms(_pymatgen_si())
    ref = bulk("Si", "diamond", a=5.43)
    assert atoms.get_chemical_symbols() == ["Si", "Si"] and all(atoms.pbc)
    np.testing.assert_allclose(atoms.cell.array, ref.cell.array, atol=1e-12)
    np.testing.assert_allclose(atoms.positions, ref.positions, atol=1e-12)


def test_atoms_are_copied_and_files_read(tmp_path):
    ref = bulk("Si", "diamond", a=5.43)
    out = to_atoms(ref)
    out.positions[0, 0] += 1.0
    assert ref.positions[0, 0] == 0.0  # the caller's object is untouched
    _pymatgen_si().to(filename=str(tmp_path / "si.cif"))
    from_file = to_atoms(tmp_path / "si.cif")
    assert from_file.get_chemical_formula() == "Si2"
    assert from_file.get_volume() == pytest.approx(ref.get_volume(), rel=1e-6)


def test_bad_structures_are_clear_errors():
    with pytest.raises(InputError, match="pymatgen Structure"):
        to_atoms({"symbols": ["Si"]})
    alloy = Structure(Lattice.cubic(3.6), [{"Cu": 0.5, "Au": 0.5}], [[0, 0, 0]])
    with pytest.raises(InputError, match="partial occupancies"):
        to_atoms(alloy)
    from ase import Atoms

    with pytest.raises(InputError, match="3-D"):
        to_atoms(Atoms("Si2", positions=[[0, 0, 0], [1, 1, 1]]))


@pytest.mark.needs_pw
def test_predict_and_scf_take_a_pymatgen_structure(tmp_path):
    """The shipped model predicts from a pymatgen Structure; pw.x starts from it (real run)."""
    from rhocat.predict import predict_restart
    from rhocat.pretrained import load_pretrained
    from rhocat.qe.scf import run_scf

    model = load_pretrained()
    structure = _pymatgen_si()
    pred = predict_restart(model, structure, out_dir=tmp_path / "pmg.save", overrides=LOW_CUTOFF)
    ref = predict_restart(
        model, bulk("Si", "diamond", a=5.43), out_dir=tmp_path / "ase.save", overrides=LOW_CUTOFF
    )
    assert (tmp_path / "pmg.save" / "charge-density.dat").read_bytes() == (
        tmp_path / "ase.save" / "charge-density.dat"
    ).read_bytes()
    assert pred.ngm == ref.ngm
    run = run_scf(structure, start=pred.restart_dir, overrides=LOW_CUTOFF, workdir=tmp_path / "r")
    assert run.converged, run.reason
    assert "The initial density is read from file" in (tmp_path / "r" / "pw.out").read_text()
