"""The dataset store: entries, index, manifest, reconcile, check, streaming.

These tests need no pw.x: entries hold an analytic density (a sum of
Gaussian atoms, exact electron count) on pw.x's own G list, which exercises
every array path of the store with real shapes.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from ase.build import bulk

from rhocat.data.check import check_dataset, format_summary, summarize
from rhocat.data.entry import EntryRecord, entry_filename, read_entry
from rhocat.data.grid import expand_gamma, grid_positions, to_real_grid
from rhocat.data.index import Index, IndexRow
from rhocat.data.manifest import Manifest
from rhocat.data.perturb import perturb
from rhocat.data.store import Dataset
from rhocat.errors import InputError
from rhocat.qe.gvectors import fft_grid_shape, g_cartesian, miller_indices

B = 1.0 / 0.529177210903


def gaussian_record(entry_id, atoms, split="train", n_el=8.0, width=1.5, nspin=1, ecutrho=60.0):
    """An ok entry whose ρ(G) is a sum of normalised Gaussians (e/bohr³)."""
    cell = atoms.cell.array * B
    pos = atoms.positions * B
    miller = miller_indices(cell, ecutrho)
    g = g_cartesian(cell, miller)
    vol = abs(np.linalg.det(cell))
    sf = np.exp(-1j * g @ pos.T).sum(axis=1) / len(atoms)
    rho = n_el / vol * np.exp(-(g**2).sum(1) * width**2 / 4) * sf
    acs = n_el / vol * np.exp(-(g**2).sum(1) * (1.2 * width) ** 2 / 4) * sf
    rho_g = np.stack([rho, 0.1 * rho][:nspin])
    return EntryRecord(
        id=entry_id,
        split=split,
        status="ok",
        numbers=atoms.numbers,
        positions_bohr=pos,
        cell_bohr=cell,
        initial_numbers=atoms.numbers,
        initial_positions_bohr=pos,
        initial_cell_bohr=cell,
        miller=miller,
        rho_g=rho_g,
        rho_acs_g=acs,
        b=np.linalg.inv(cell).T,
        accuracy_ry=[1e-1, 1e-3, 1e-9],
        energies_ry=[-10.0, -10.5, -10.6],
        paw={"becsum": np.arange(6.0).reshape(1, 2, 3)},
        meta={
            "fft_grid": list(fft_grid_shape(cell, ecutrho)),
            "n_electrons": n_el,
            "iterations": 3,
            "timings": {"scf_s": 1.5, "total_s": 1.7},
            "parameters": {"system": {"ecutwfc": 20.0}},
            "input_hash": "abc",
        },
    )


@pytest.fixture
def ds(tmp_path):
    d = Dataset.create(tmp_path / "data", Manifest(overrides={"ecutwfc": 20.0}))
    yield d
    d.close()


def test_entry_round_trip_is_exact(ds):
    si = bulk("Si", "diamond", a=5.43)
    rec = gaussian_record("diamond-Si", si, nspin=2)
    row = ds.add(rec)
    assert row.status == "ok" and row.ngm == len(rec.miller) and row.nspin == 2
    assert row.grid_points == int(np.prod(rec.meta["fft_grid"]))
    back = read_entry(ds.file_of("diamond-Si"))
    assert np.array_equal(back.rho_g, rec.rho_g)  # float64, bit for bit
    assert np.array_equal(back.rho_acs_g, rec.rho_acs_g)
    assert np.array_equal(back.miller, rec.miller)
    assert np.array_equal(back.paw["becsum"], rec.paw["becsum"])
    assert back.accuracy_ry == rec.accuracy_ry and back.meta["parameters"] == rec.meta["parameters"]
    sample = ds.load("diamond-Si")
    assert sample.split == "train" and sample.fft_grid == tuple(rec.meta["fft_grid"])
    assert sample.rho_g.shape == (2, len(rec.miller))
    assert np.isclose(sample.rho_g[0, 0].real * sample.volume_bohr3, 8.0)
    assert np.allclose(sample.delta_rho_g, rec.rho_g[0] - rec.rho_acs_g)
    assert sample.meta["formula"] == "Si"
    assert sample.elements == back.elements == ["Si"]


def test_a_sample_names_its_element_combination_sorted_once_each():
    from rhocat.data.sample import DensitySample

    z = np.array([31, 33, 31])
    empty = np.zeros((0, 3))
    sample = DensitySample("x", z, np.zeros((3, 3)), np.eye(3), empty, empty, empty, (1, 1, 1))
    assert sample.elements == ["As", "Ga"]


def test_ids_filters_and_failed_entries_are_kept_out(ds):
    si = bulk("Si", "diamond", a=5.43)
    ni = bulk("Ni", "fcc", a=3.52)
    ds.add(gaussian_record("diamond-Si", si, "train"))
    ds.add(gaussian_record("fcc-Ni", ni, "test_binary", n_el=10.0))
    ds.add(
        EntryRecord(
            id="bad-SiNi",
            split="train",
            status="failed",
            reason="did not converge",
            initial_numbers=np.array([14, 28]),
            meta={"output_tail": "..."},
        )
    )
    assert ds.ids() == ["diamond-Si", "fcc-Ni"]
    assert ds.ids(split="train") == ["diamond-Si"]
    assert ds.ids(status=None, split="train") == ["bad-SiNi", "diamond-Si"]
    assert ds.ids(elements=["Ni"]) == ["fcc-Ni"]
    assert ds.count() == 3 and ds.count(status="failed") == 1 and len(ds) == 2
    assert ds.row("bad-SiNi").reason == "did not converge"
    with pytest.raises(InputError, match="no density"):
        ds.load("bad-SiNi")
    with pytest.raises(InputError, match="no entry"):
        ds.load("nope")
    table = {r["split"]: r for r in summarize(ds.path)}
    assert table["train"]["structures"] == 2 and table["train"]["failed"] == 1
    assert table["total"]["ok"] == 2
    assert "median iter" in format_summary(summarize(ds.path))


def test_reconcile_after_crash(ds):
    si = bulk("Si", "diamond", a=5.43)
    ds.add(gaussian_record("a-Si", si))
    # a crash between file and index row: write the file without its row
    from rhocat.data.store import write_entry_file

    write_entry_file(ds.path, gaussian_record("b-Si", si))
    # a crash during a write: a temporary file that must never count as an entry
    (ds.entries_dir / ".tmp-123-456-c-Si.h5").write_bytes(b"\x89HDF half written")
    # a row whose file vanished
    os.unlink(ds.file_of("a-Si"))
    (ds.work_dir / "c-Si-1-2").mkdir(parents=True)
    assert ds.ids() == ["a-Si"]
    stats = ds.reconcile()
    assert stats == {"added": 1, "removed": 1, "stale": 2, "unreadable": 0, "checksummed": 0}
    assert ds.ids() == ["b-Si"]
    assert not list(ds.entries_dir.glob(".tmp-*")) and not list(ds.work_dir.iterdir())
    assert check_dataset(ds.path).clean


def test_index_is_rebuilt_from_files(ds):
    si = bulk("Si", "diamond", a=5.43)
    for i in range(3):
        ds.add(gaussian_record(f"s{i}", si, split="val" if i else "train"))
    ds.close()
    os.unlink(ds.path / "index.sqlite")
    with Dataset(ds.path) as again:
        assert again.ids() == ["s0", "s1", "s2"] and again.ids(split="val") == ["s1", "s2"]
        assert check_dataset(again.path).clean


def test_manifest_guards_the_directory(tmp_path, ds):
    with pytest.raises(InputError, match="different dataset.*relax"):
        Dataset.create(ds.path, Manifest(relax=True, overrides={"ecutwfc": 20.0}))
    with pytest.raises(InputError, match="different dataset.*overrides"):
        Dataset.create(ds.path, Manifest())
    Dataset.create(ds.path, Manifest(overrides={"ecutwfc": 20.0})).close()  # same: fine
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty and is not a rhocat dataset"):
        Dataset.create(other, Manifest())
    with pytest.raises(InputError, match="not a rhocat dataset"):
        Dataset(other)
    with pytest.raises(InputError, match="no such dataset"):
        Dataset(tmp_path / "missing")


def test_check_catches_corruption(ds):
    si = bulk("Si", "diamond", a=5.43)
    ds.add(gaussian_record("good", si))
    ds.add(gaussian_record("flipped", si))
    wrong = gaussian_record("wrong-charge", si)
    wrong.meta["n_electrons"] = 8.001
    ds.add(wrong)
    path = ds.file_of("flipped")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    truncated = gaussian_record("truncated", si)
    ds.add(truncated)
    tpath = ds.file_of("truncated")
    tpath.write_bytes(tpath.read_bytes()[:1000])
    report = check_dataset(ds.path)
    assert set(report.problems) == {"flipped", "wrong-charge", "truncated"}
    assert any("checksum" in p for p in report.problems["flipped"])
    assert any("n_electrons = 8.001" in p for p in report.problems["wrong-charge"])
    assert any("not a readable rhocat entry" in p for p in report.problems["truncated"])
    assert report.ok == 1


def test_gamma_only_entries_load_as_full_sphere(ds):
    si = bulk("Si", "diamond", a=5.43)
    full = gaussian_record("full", si)
    m = full.miller
    # keep one of each ±G pair, as pw.x does with gamma tricks
    key = m[:, 0] * 10000 + m[:, 1] * 100 + m[:, 2]
    half = key >= 0
    rec = gaussian_record("half", si)
    rec.miller, rec.rho_g, rec.rho_acs_g = m[half], full.rho_g[:, half], full.rho_acs_g[half]
    rec.gamma_only = True
    ds.add(rec)
    ds.add(full)
    a, b = ds.load("full"), ds.load("half")
    assert len(b.miller) == len(a.miller)
    shape = a.fft_grid
    assert np.allclose(
        to_real_grid(a.miller, a.rho_g[0], shape), to_real_grid(b.miller, b.rho_g[0], shape)
    )
    mf, _ = expand_gamma(rec.miller, rec.rho_g)
    assert sorted(map(tuple, mf)) == sorted(map(tuple, m))


def test_streaming_and_grid_points(ds):
    si = bulk("Si", "diamond", a=5.43)
    for i in range(5):
        ds.add(gaussian_record(f"s{i}", si, split="train"))
    order1 = [s.id for s in ds.iter_samples(split="train", shuffle=True, seed=1)]
    order2 = [s.id for s in ds.iter_samples(split="train", shuffle=True, seed=1)]
    assert order1 == order2 and sorted(order1) == [f"s{i}" for i in range(5)]
    assert [s.id for s in ds.iter_samples()] == [f"s{i}" for i in range(5)]
    sample, pts = next(ds.iter_grid_points(50, split="train", seed=3))
    assert pts["positions_bohr"].shape == (50, 3) and len(set(pts["index"])) == 50
    # values at the sampled points equal a direct sum over G at those positions
    r = pts["positions_bohr"][:5]
    direct = (sample.rho_g[0][None, :] * np.exp(1j * r @ sample.g_cart.T)).sum(1).real
    assert np.allclose(pts["rho"][:5], direct, atol=1e-10)
    assert np.allclose(pts["delta"], pts["rho"] - pts["rho_acs"])
    # mean over the full grid times the volume is the electron count
    grid = to_real_grid(sample.miller, sample.rho_g[0], sample.fft_grid)
    assert np.isclose(grid.mean() * sample.volume_bohr3, 8.0)
    assert np.allclose(
        grid_positions(sample.cell_bohr, (2, 2, 2), np.array([7])), sample.cell_bohr.sum(0) / 2
    )


def test_index_scales_to_1e5_rows(tmp_path):
    """Right answers on 1e5 rows (their time: benchmarks/data_index.py)."""
    index = Index(tmp_path / "index.sqlite")
    splits = ["train", "val", "test_binary", "test_ternary"]
    rows = [
        IndexRow(
            id=f"s{i:06d}",
            split=splits[i % 4],
            formula="GaN",
            elements=",Ga,N," if i % 3 else ",Cu,",
            n_atoms=2,
            status="failed" if i % 10 == 0 else "ok",
            reason="",
            n_iterations=9,
            scf_s=1.0,
            total_s=1.1,
            grid_points=1000,
            ngm=100,
            nspin=1,
            file=f"s{i:06d}.h5",
            checksum="x",
        )
        for i in range(100_000)
    ]
    index.upsert(rows)
    assert index.count() == 100_000
    assert index.count(split="train", status="ok") == sum(1 for i in range(0, 100_000, 4) if i % 10)
    assert len(index.ids(split="val", elements=["Ga"])) == sum(
        1 for i in range(100_000) if i % 4 == 1 and i % 3 and i % 10
    )
    assert len(index.status_map()) == 100_000
    index.close()


def test_entry_filenames_are_safe_and_distinct():
    assert entry_filename("rocksalt-GaN") == "rocksalt-GaN.h5"
    a, b = entry_filename("a/b"), entry_filename("a_b")
    assert a != b and "/" not in a
    assert not entry_filename("..x").startswith(".")
    with pytest.raises(InputError):
        entry_filename("")


def test_perturbation_is_seeded_by_id_not_order():
    si = bulk("Si", "diamond", a=5.43) * (2, 1, 1)
    a1, info = perturb(si, "x", sigma_ang=0.05, strain=0.02, seed=7)
    a2, _ = perturb(si, "x", sigma_ang=0.05, strain=0.02, seed=7)
    a3, _ = perturb(si, "y", sigma_ang=0.05, strain=0.02, seed=7)
    assert np.array_equal(a1.positions, a2.positions) and np.array_equal(a1.cell, a2.cell)
    assert not np.allclose(a1.positions, a3.positions)
    eps = np.array(info["strain_tensor"])
    assert np.allclose(eps, eps.T) and np.abs(eps).max() <= 0.02 and np.abs(eps).max() > 0
    assert np.allclose(a1.cell.array, si.cell.array @ (np.eye(3) + eps))
    # displacements on top of the strained positions have zero mean
    strained = si.positions @ (np.eye(3) + eps)
    assert np.allclose((a1.positions - strained).mean(0), 0, atol=1e-12)
    same, info0 = perturb(si, "x")
    assert np.array_equal(same.positions, si.positions) and info0["max_displacement_ang"] == 0


@pytest.mark.parametrize("gamma_only", [False, True])
def test_compact_entry_round_trip_spin_and_gamma(tmp_path, gamma_only):
    """nspin 2 and gamma-only half lists survive compact storage (float32 precision)."""
    import h5py

    from rhocat.data.entry import write_entry

    si = bulk("Si", "diamond", a=5.43)
    rec = gaussian_record("spin", si, nspin=2)
    rec.meta["parameters"] = {"system": {"ecutwfc": 15.0, "ecutrho": 60.0}}
    if gamma_only:
        half = miller_indices(rec.cell_bohr, 60.0, gamma_only=True)
        where = {tuple(m): i for i, m in enumerate(rec.miller)}
        pick = np.array([where[tuple(m)] for m in half])
        rec.miller, rec.rho_g, rec.rho_acs_g = half, rec.rho_g[:, pick], rec.rho_acs_g[pick]
        rec.gamma_only = True
    path, _ = write_entry(tmp_path, rec, storage="compact")
    back = read_entry(path)
    assert back.storage == "compact" and back.gamma_only == gamma_only
    assert np.array_equal(back.miller, rec.miller)
    assert back.rho_g.shape == (2, len(rec.miller))
    rel = np.linalg.norm(back.rho_g - rec.rho_g) / np.linalg.norm(rec.rho_g)
    assert 0 < rel < 1e-6
    assert np.array_equal(back.rho_g[:, 0], rec.rho_g[:, 0])
    assert back.rho_acs_g is None  # recomputed by Dataset.record from the family
    assert np.array_equal(back.paw["becsum"], rec.paw["becsum"])
    with h5py.File(path) as f:
        n_stored = f["density/rho_g_half"].shape[1]
    assert n_stored == (len(rec.miller) if gamma_only else (len(rec.miller) + 1) // 2)


def test_compact_storage_refuses_a_density_that_is_not_real(tmp_path):
    from rhocat.data.entry import write_entry

    rec = gaussian_record("complex", bulk("Si", "diamond", a=5.43))
    rec.meta["parameters"] = {"system": {"ecutrho": 60.0}}
    neg = np.flatnonzero(np.all(rec.miller == [-1, -1, -1], axis=1))[0]
    rec.rho_g[0, neg] += 1e-3j
    with pytest.raises(InputError, match="not a real density"):
        write_entry(tmp_path, rec, storage="compact")
    assert not list(tmp_path.iterdir())  # nothing half-written
    with pytest.raises(InputError, match="storage must be one of"):
        Manifest(storage="tiny")


def test_coverage_counts_elements_pairs_and_uncovered_test_structures(ds):
    from rhocat.data.check import coverage, format_coverage

    si, sic = bulk("Si", "diamond", a=5.43), bulk("SiC", "zincblende", a=4.36)
    for i in range(11):
        ds.add(gaussian_record(f"si{i}", si))
    for i in range(3):
        ds.add(gaussian_record(f"sic{i}", sic))
    ds.add(gaussian_record("ge", bulk("Ge", "diamond", a=5.66)))
    ds.add(gaussian_record("c-val", bulk("C", "diamond", a=3.57), split="val"))
    ds.add(gaussian_record("si-test", si, split="test_binary"))
    ds.add(gaussian_record("gesi-test", bulk("GeSi", "zincblende", a=5.5), split="test_binary"))
    failed = EntryRecord(id="bn-failed", split="test_binary", status="failed", reason="x")
    failed.initial_numbers = bulk("BN", "zincblende", a=3.6).numbers
    ds.add(failed)  # failed runs count nowhere
    cov = coverage(ds.path)
    assert cov["splits"] == ["train", "test_binary", "val"]
    assert cov["elements"]["Si"] == {"train": 14, "test_binary": 2, "val": 0, "total": 16}
    assert cov["elements"]["C"]["train"] == 3 and cov["elements"]["C"]["val"] == 1
    assert "B" not in cov["elements"] and "B-N" not in cov["pairs"]
    assert cov["pairs"]["C-Si"] == {"train": 3, "test_binary": 0, "val": 0, "total": 3}
    assert cov["pairs"]["Ge-Si"]["train"] == 0 and cov["pairs"]["Ge-Si"]["test_binary"] == 1
    out = cov["outside_train"]
    assert out["test_binary"]["structures"] == 2 and out["test_binary"]["covered"] == 1
    assert out["test_binary"]["not_covered"] == [{"id": "gesi-test", "short": {"Ge": 1}}]
    assert out["val"]["not_covered"] == [{"id": "c-val", "short": {"C": 3}}]
    text = format_coverage(cov)
    assert "gesi-test not covered (Ge in 1 train structures)" in text
    assert any(line.split() == ["C-Si", "3", "0", "0", "3"] for line in text.splitlines())
    assert coverage(ds.path, min_train=1)["outside_train"]["test_binary"]["covered"] == 2


def test_an_entry_killed_before_its_checksum_line_is_a_note_the_resume_repairs(ds):
    """Renamed into entries/ but killed before its line in checksums.sha256: an interrupted
    run, not damage; reconciling (what `rhocat dft run` does first) appends the line."""
    from rhocat.data.checksums import read_checksums, write_checksums
    from rhocat.data.store import write_entry_file

    write_entry_file(ds.path, gaussian_record("b-Si", bulk("Si", "diamond", a=5.43)))
    write_checksums(ds.path, {})  # as if killed between the rename and the append
    report = check_dataset(ds.path)
    assert report.clean and any("no line in checksums.sha256 yet" in n for n in report.notes)
    assert ds.reconcile()["checksummed"] == 1
    assert "b-Si.h5" in read_checksums(ds.path)[0]
    final = check_dataset(ds.path)
    assert final.clean and final.ok == 1 and not final.notes
