"""Candidate directories, import of user files, the Materials Project path."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from rhocat.errors import MissingToolError, RhocatError
from rhocat.structures import (
    candidates_from_mp_docs,
    fetch_materials_project,
    generate_candidates,
    import_structures,
    read_candidates,
    write_candidates,
)

DATA = Path(__file__).parents[1] / "data_files" / "structures"


def test_write_read_roundtrip(tmp_path):
    cands = generate_candidates(["Ga", "As"], max_per_system=2)
    index = write_candidates(cands, tmp_path / "c", {"elements": ["Ga", "As"]})
    assert index.name == "candidates.json"
    back = read_candidates(tmp_path / "c")
    assert [c.id for c in back] == [c.id for c in cands]
    for a, b in zip(cands, back, strict=True):
        assert a.formula == b.formula and a.elements == b.elements
        assert a.oxidation_states == b.oxidation_states
        assert np.allclose(a.atoms.cell, b.atoms.cell, atol=1e-6)
        assert np.allclose(a.atoms.positions, b.atoms.positions, atol=1e-6)
        assert b.path == (tmp_path / "c" / f"{a.id}.extxyz").resolve()
    assert not list((tmp_path / "c").glob(".*tmp"))  # no temporary files left


def test_rewrite_removes_stale_files(tmp_path):
    write_candidates(generate_candidates(["Ga", "As"]), tmp_path)
    n_before = len(list(tmp_path.glob("*.extxyz")))
    write_candidates(generate_candidates(["Cu"]), tmp_path)
    assert n_before > 1 and sorted(p.name for p in tmp_path.glob("*.extxyz")) == ["fcc-Cu.extxyz"]


def test_read_candidates_errors(tmp_path):
    with pytest.raises(RhocatError, match="not found"):
        read_candidates(tmp_path)
    (tmp_path / "candidates.json").write_text("{not json")
    with pytest.raises(RhocatError, match="not a candidates.json"):
        read_candidates(tmp_path)
    write_candidates(generate_candidates(["Cu"]), tmp_path)
    (tmp_path / "fcc-Cu.extxyz").unlink()
    with pytest.raises(RhocatError, match="missing"):
        read_candidates(tmp_path)


def test_import_skips_corrupt_cif_and_keeps_the_rest():
    files = [
        DATA / "GaAs_conventional.cif",
        DATA / "corrupt.cif",
        DATA / "POSCAR_NiO",
        DATA / "Cu_fcc.extxyz",
        DATA / "does_not_exist.cif",
    ]
    cands, problems = import_structures(files)
    assert [c.id for c in cands] == ["sg216-GaAs", "sg225-NiO", "sg225-Cu"]
    assert cands[0].n_atoms == 8 and cands[0].species == ("As3-", "Ga3+")
    reported = {Path(p).name: m for p, m in problems}
    assert set(reported) == {"corrupt.cif", "does_not_exist.cif"}
    assert "unreadable" in reported["corrupt.cif"]


def test_import_duplicate_ids_and_filters(tmp_path):
    cands, problems = import_structures([DATA / "Cu_fcc.extxyz", DATA / "Cu_fcc.extxyz"])
    assert [c.id for c in cands] == ["sg225-Cu", "sg225-Cu-2"]
    cands, problems = import_structures([DATA / "GaAs_conventional.cif"], max_atoms=4)
    assert not cands and "max_atoms=4" in problems[0][1]


def test_import_ase_db(tmp_path):
    from ase.build import bulk
    from ase.db import connect

    with connect(str(tmp_path / "s.db")) as db:
        db.write(bulk("Si", "diamond", a=5.43))
        db.write(bulk("Cu", "fcc", a=3.61))
    cands, problems = import_structures([tmp_path / "s.db"])
    assert sorted(c.formula for c in cands) == ["Cu", "Si"] and not problems


def _docs():
    return json.loads((DATA / "mp_summary_response.json").read_text())["docs"]


def test_materials_project_recorded_response():
    cands, problems = candidates_from_mp_docs(_docs())
    assert [c.id for c in cands] == ["mp-149-Si", "mp-2534-GaAs", "mp-30-Cu"]
    assert cands[1].species == ("As3-", "Ga3+") and cands[1].source == "mp-2534"
    assert cands[0].prototype == "sg227"
    why = dict(problems)
    assert "max_atoms=12" in why["mp-8883"] and "mp-0" in why


def test_materials_project_without_key(monkeypatch):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(RhocatError, match="MP_API_KEY"):
        fetch_materials_project(["Ga", "As"])


def test_materials_project_without_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "mp_api", None)  # makes `import mp_api` fail
    monkeypatch.setitem(sys.modules, "mp_api.client", None)
    with pytest.raises(MissingToolError, match="pip install mp-api"):
        fetch_materials_project(["Ga", "As"], api_key="x" * 32)


def _fake_client(monkeypatch, search):
    """A stand-in for the mp_api package (the real one is optional and not installed)."""

    class Summary:
        def search(self, **kwargs):
            return search(**kwargs)

    class MPRester:
        def __init__(self, key):
            self.materials = types.SimpleNamespace(summary=Summary())

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    pkg = types.ModuleType("mp_api")
    client = types.ModuleType("mp_api.client")
    client.MPRester = MPRester
    pkg.client = client
    monkeypatch.setitem(sys.modules, "mp_api", pkg)
    monkeypatch.setitem(sys.modules, "mp_api.client", client)


def test_materials_project_network_failure(monkeypatch):
    def search(**kwargs):
        raise ConnectionError("Name or service not known")

    _fake_client(monkeypatch, search)
    with pytest.raises(RhocatError, match="query failed.*network"):
        fetch_materials_project(["Ga", "As"], api_key="x" * 32)


def test_materials_project_query_shape(monkeypatch):
    seen = {}

    def search(**kwargs):
        seen.update(kwargs)
        return _docs()

    _fake_client(monkeypatch, search)
    cands, _ = fetch_materials_project(["Ga", "As"], api_key="x" * 32)
    assert seen["chemsys"] == ["As", "Ga", "As-Ga"]
    assert seen["energy_above_hull"] == (0.0, 0.1)
    assert "structure" in seen["fields"]
    assert len(cands) == 3
