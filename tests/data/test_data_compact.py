"""Compact entry storage and checksums.sha256, with real pw.x runs on tiny cells.

Diamond Si (ultrasoft) and diamond Ge (PAW, so becsum travels too) are
computed once into a full dataset; the same entry records are then written
into a compact dataset, and one structure is also built straight into a
compact dataset by the normal build pipeline.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk

from rhocat.data.build import BuildConfig, Job, build_dataset
from rhocat.data.check import check_dataset
from rhocat.data.checksums import CHECKSUMS, read_checksums
from rhocat.data.engines import LocalEngine
from rhocat.data.entry import file_sha256, read_attrs
from rhocat.data.manifest import Manifest
from rhocat.data.store import Dataset
from rhocat.errors import InputError

pytestmark = pytest.mark.needs_pw

TINY = {"ecutwfc": 20.0, "ecutrho": 160.0, "k_points": [2, 2, 2]}


def _jobs() -> list[Job]:
    return [
        Job("diamond-Si", "train", bulk("Si", "diamond", a=5.43)),
        Job("diamond-Ge", "test", bulk("Ge", "diamond", a=5.66)),
    ]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """(full dataset path, compact dataset path) holding the same two records."""
    root = tmp_path_factory.mktemp("compact")
    full = root / "full"
    report = build_dataset(
        _jobs(),
        full,
        BuildConfig(Manifest(overrides=dict(TINY), strain=0.01, seed=1), ranks=1),
        engine=LocalEngine(workers=1),
        progress=False,
    )
    assert report.done == 2, report.failures
    compact = root / "compact"
    manifest = Manifest(overrides=dict(TINY), strain=0.01, seed=1, storage="compact")
    with Dataset(full) as src, Dataset.create(compact, manifest) as dst:
        for entry_id in src.ids():
            dst.add(src.record(entry_id))
    return full, compact


@pytest.mark.parametrize("entry_id", ["diamond-Si", "diamond-Ge"])
def test_compact_entry_loads_like_the_full_one(both, entry_id):
    full, compact = both
    with Dataset(full) as a, Dataset(compact) as b:
        sa, sb = a.load(entry_id), b.load(entry_id)
        ra, rb = a.record(entry_id), b.record(entry_id)
    assert rb.storage == "compact" and ra.storage == "full"
    assert np.array_equal(sa.miller, sb.miller)  # recomputed, in pw.x's order
    assert sa.rho_g.shape == sb.rho_g.shape
    rel = np.linalg.norm(sa.rho_g - sb.rho_g) / np.linalg.norm(sa.rho_g)
    assert rel < 1e-6
    assert sb.rho_g[0, 0] == sa.rho_g[0, 0]  # G = 0 kept in float64: exact electron count
    acs = np.linalg.norm(sa.rho_acs_g - sb.rho_acs_g) / np.linalg.norm(sa.rho_acs_g)
    assert acs < 1e-10
    assert sa.fft_grid == sb.fft_grid and sa.split == sb.split
    assert np.array_equal(sa.positions_bohr, sb.positions_bohr)
    assert np.array_equal(sa.cell_bohr, sb.cell_bohr)
    assert np.array_equal(ra.initial_cell_bohr, rb.initial_cell_bohr)
    assert ra.accuracy_ry == rb.accuracy_ry and ra.energies_ry == rb.energies_ry
    assert json.dumps(ra.meta, sort_keys=True) == json.dumps(rb.meta, sort_keys=True)
    assert np.array_equal(ra.b, rb.b) and ra.gamma_only == rb.gamma_only
    assert set(ra.paw) == set(rb.paw)
    for name in ra.paw:
        assert np.array_equal(ra.paw[name], rb.paw[name])
    if entry_id == "diamond-Ge":
        assert "becsum" in rb.paw  # Ge is PAW in debian-pbe
    # the compact file holds neither the Miller list nor the ACS, and is much smaller
    attrs = read_attrs(b.entries_dir / f"{entry_id}.h5")
    assert attrs["version"] == 2 and attrs["ngm"] == len(sa.miller)
    import h5py

    with h5py.File(b.entries_dir / f"{entry_id}.h5") as f:
        assert set(f["density"]) == {"rho_g_half", "rho_g0", "b"}
        assert f["density/rho_g_half"].dtype == np.float32
        assert f["density/rho_g_half"].shape[1] == (len(sa.miller) + 1) // 2
    size_full = (a.entries_dir / f"{entry_id}.h5").stat().st_size
    size_compact = (b.entries_dir / f"{entry_id}.h5").stat().st_size
    print(f"{entry_id}: ngm {len(sa.miller)}, full {size_full} B, compact {size_compact} B")
    assert size_compact * 3 < size_full


def test_both_datasets_check_clean_with_checksums(both):
    for path in both:
        report = check_dataset(path)
        assert report.clean, report.problems
        assert report.ok == 2
        lines, bad = read_checksums(path)
        assert not bad and set(lines) == {"diamond-Si.h5", "diamond-Ge.h5"}
        for name, digest in lines.items():
            assert file_sha256(path / "entries" / name) == digest
        ignore = (path / ".gitignore").read_text().split()
        assert {"index.sqlite", "work/", ".lock"} <= set(ignore)


def test_flipped_byte_in_a_compact_entry_is_reported(both, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(both[1], copy)
    (copy / "index.sqlite").unlink()  # as in a fresh git clone: index rebuilt from the files
    for extra in copy.glob("index.sqlite-*"):
        extra.unlink()
    path = copy / "entries" / "diamond-Ge.h5"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = check_dataset(copy)
    assert set(report.problems) == {"diamond-Ge"}
    assert any(f"does not match {CHECKSUMS}" in p for p in report.problems["diamond-Ge"])
    # a missing line and a listed file that is gone are both reported
    lines, _ = read_checksums(copy)
    (copy / CHECKSUMS).write_text(f"{lines['diamond-Ge.h5']}  entries/gone.h5\n")
    report = check_dataset(copy)
    assert any("no line for entries/diamond-Si.h5" in p for p in report.problems["diamond-Si"])
    assert any("entries/gone.h5 is missing" in p for p in report.problems["gone.h5"])


def test_changed_cutoff_is_refused_on_load(both, tmp_path):
    """The G list is recomputed: a file whose stored ecutrho disagrees with its ngm is refused."""
    import shutil

    import h5py

    copy = tmp_path / "copy"
    shutil.copytree(both[1], copy)
    path = copy / "entries" / "diamond-Si.h5"
    with h5py.File(path, "r+") as f:
        meta = json.loads(f.attrs["json"])
        meta["parameters"]["system"]["ecutrho"] = 150.0
        f.attrs["json"] = json.dumps(meta)
    with Dataset(copy) as ds, pytest.raises(InputError, match="recomputed G list has"):
        ds.load("diamond-Si")


def test_build_straight_into_a_compact_dataset(both, tmp_path):
    out = tmp_path / "built"
    manifest = Manifest(overrides=dict(TINY), strain=0.01, seed=1, storage="compact")
    report = build_dataset(
        _jobs()[:1],
        out,
        BuildConfig(manifest, ranks=1),
        engine=LocalEngine(workers=1),
        progress=False,
    )
    assert report.done == 1, report.failures
    assert json.loads((out / "manifest.json").read_text())["storage"] == "compact"
    with Dataset(out) as ds, Dataset(both[0]) as ref:
        s, r = ds.load("diamond-Si"), ref.load("diamond-Si")
    assert np.array_equal(s.miller, r.miller)
    assert abs(s.rho_g[0, 0].real * s.volume_bohr3 - 8.0) < 1e-5
    assert np.linalg.norm(s.rho_g - r.rho_g) / np.linalg.norm(r.rho_g) < 1e-4
    assert check_dataset(out).clean
    with pytest.raises(InputError, match="different dataset.*storage"):
        Dataset.create(out, Manifest(overrides=dict(TINY), strain=0.01, seed=1))


def test_pack_converts_a_full_dataset(both, tmp_path):
    import shutil
    import subprocess
    import sys

    from rhocat.data.entry import EntryRecord

    full = tmp_path / "full"
    shutil.copytree(both[0], full)
    with Dataset(full) as ds:
        ds.add(EntryRecord(id="broken", split="train", status="failed", reason="pw.x said no"))
    cmd = [sys.executable, "-m", "rhocat.cli.main", "data", "pack", str(full)]
    p = subprocess.run(
        [*cmd, str(tmp_path / "packed"), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert "3 entries packed" in p.stdout and "(2 ok, 1 failed runs)" in p.stdout
    packed = tmp_path / "packed"
    assert json.loads((packed / "manifest.json").read_text())["storage"] == "compact"
    with Dataset(packed) as a, Dataset(both[1]) as b:
        assert a.ids(status=None) == ["broken", "diamond-Ge", "diamond-Si"]
        assert a.record("broken").reason == "pw.x said no"
        for entry_id in b.ids():
            sa, sb = a.load(entry_id), b.load(entry_id)
            assert np.array_equal(sa.miller, sb.miller) and np.array_equal(sa.rho_g, sb.rho_g)
    report = check_dataset(packed)
    assert report.clean and report.ok == 2 and report.failed_runs == 1
    assert set(read_checksums(packed)[0]) == {"broken.h5", "diamond-Ge.h5", "diamond-Si.h5"}
    # an existing destination is refused without touching it
    p = subprocess.run([*cmd, str(packed)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "already exists" in p.stderr and "Traceback" not in p.stderr
    assert not list(tmp_path.glob(".packed.pack-*"))


def test_pack_refuses_when_the_acs_cannot_be_reproduced(both, tmp_path):
    """A stored ACS that the family does not reproduce stops the pack; nothing is left behind."""
    import shutil

    import h5py

    from rhocat.data.pack import pack_dataset

    full = tmp_path / "full"
    shutil.copytree(both[0], full)
    with h5py.File(full / "entries" / "diamond-Si.h5", "r+") as f:
        f["density/rho_acs_g"][1, 0] *= 1.001
    with pytest.raises(InputError, match="recomputed ACS differs"):
        pack_dataset(full, tmp_path / "packed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]
