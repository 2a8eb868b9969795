"""The dataset pipeline with real pw.x runs on tiny cells (low cutoffs, 2x2x2 k).

One module-scoped dataset (3 structures + one that pw.x rejects) is built
with two workers and shared by the read-only tests; the resume tests build
their own.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from rhocat.data.build import BuildConfig, Job, build_dataset, select_jobs
from rhocat.data.check import check_dataset, summarize
from rhocat.data.engines import LocalEngine
from rhocat.data.manifest import Manifest
from rhocat.data.store import Dataset
from rhocat.errors import InputError, PseudoError

pytestmark = pytest.mark.needs_pw

TINY = {"ecutwfc": 20.0, "ecutrho": 160.0, "k_points": [2, 2, 2]}


def tiny_jobs() -> list[Job]:
    return [
        Job("diamond-Si", "train", bulk("Si", "diamond", a=5.43)),
        Job("diamond-C", "train", bulk("C", "diamond", a=3.57)),
        # refused before pw.x runs: two atoms on one site
        Job("overlap-Si", "train", Atoms("Si2", positions=[[0, 0, 0]] * 2, cell=[4] * 3, pbc=True)),
        Job("zincblende-SiC", "test_binary", bulk("SiC", "zincblende", a=4.36)),
    ]


def tiny_manifest(**kw) -> Manifest:
    return Manifest(overrides=dict(TINY), strain=0.01, seed=3, **kw)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "data"
    rows = []
    report = build_dataset(
        tiny_jobs(),
        out,
        BuildConfig(tiny_manifest(), ranks=1),
        engine=LocalEngine(workers=2),
        progress=False,
        on_row=rows.append,
    )
    return out, report, rows


def test_three_structures_built_and_one_failure_recorded(built):
    out, report, rows = built
    assert (report.requested, report.done, report.failed, report.skipped) == (4, 3, 1, 0)
    # refused before pw.x by the physical-distance guard (0 Å apart), recorded as a failure
    assert "0 Å apart" in report.failures["overlap-Si"]
    with Dataset(out) as ds:
        assert ds.ids() == ["diamond-C", "diamond-Si", "zincblende-SiC"]
        assert ds.ids(split="train") == ["diamond-C", "diamond-Si"]
        failed = ds.record("overlap-Si")
        assert failed.status == "failed" and "not a physical structure" in failed.reason
        assert failed.rho_g is None
    assert sorted(r.id for r in rows) == sorted(j.id for j in tiny_jobs())


def test_entries_hold_everything_the_issue_lists(built):
    out, _, _ = built
    with Dataset(out) as ds:
        rec = ds.record("zincblende-SiC")
        sample = ds.load("zincblende-SiC")
    m = rec.meta
    assert m["converged"] and m["iterations"] == len(rec.accuracy_ry) == len(rec.energies_ry) > 1
    assert rec.accuracy_ry[-1] < rec.accuracy_ry[0]
    assert m["n_electrons"] == 8.0 and len(m["fft_grid"]) == 3
    assert m["parameters"]["system"]["ecutwfc"] == 20.0
    assert m["parameters"]["electrons"]["startingpot"] == "atomic"
    assert set(m["pseudos"]) == {"Si", "C"} and all(
        len(p["md5"]) == 32 for p in m["pseudos"].values()
    )
    assert m["qe_version"].startswith("6.")
    assert m["energy_ry"] < 0 and m["fermi_energy_ev"] is not None
    assert {"scf_s", "acs_s", "total_s"} <= set(m["timings"])
    # the strain was applied: the stored structure is not the input cell
    eps = np.array(m["perturbation"]["strain_tensor"])
    ideal = bulk("SiC", "zincblende", a=4.36)
    assert np.allclose(rec.cell_bohr, ideal.cell.array @ (np.eye(3) + eps) / 0.529177210903)
    assert np.allclose(rec.initial_cell_bohr, ideal.cell.array / 0.529177210903)
    # electron count of ρ and of the ACS, and the correction is small but nonzero
    vol = sample.volume_bohr3
    assert abs(sample.rho_g[0, 0].real * vol - 8.0) < 1e-6
    assert abs(sample.rho_acs_g[0].real * vol - 8.0) < 1e-6
    rel = np.linalg.norm(sample.delta_rho_g) / np.linalg.norm(sample.rho_g[0])
    assert 0.01 < rel < 0.5


def test_check_and_summary_of_a_real_dataset(built):
    out, _, _ = built
    report = check_dataset(out)
    assert report.clean and report.ok == 3 and report.failed_runs == 1
    table = {r["split"]: r for r in summarize(out)}
    assert table["train"]["structures"] == 3 and table["train"]["failed"] == 1
    assert table["test_binary"]["ok"] == 1 and table["test_binary"]["grid_points"] > 1000
    assert table["total"]["median_iterations"] > 1


def test_rerun_skips_everything_and_rejects_other_settings(built, tmp_path):
    out, _, _ = built
    files = {p.name: p.stat().st_mtime_ns for p in (out / "entries").iterdir()}
    report = build_dataset(tiny_jobs(), out, BuildConfig(tiny_manifest()), progress=False)
    assert (report.skipped, report.done, report.failed) == (4, 0, 0)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "entries").iterdir()} == files
    with pytest.raises(InputError, match="different dataset.*relax"):
        build_dataset(tiny_jobs(), out, BuildConfig(tiny_manifest(relax=True)), progress=False)
    # --retry-failed recomputes the failed entry only (it fails again: same reason)
    report = build_dataset(
        tiny_jobs(), out, BuildConfig(tiny_manifest()), retry_failed=True, progress=False
    )
    assert (report.skipped, report.done, report.failed) == (3, 0, 1)
    now = {p.name: p.stat().st_mtime_ns for p in (out / "entries").iterdir()}
    assert [k for k in now if now[k] != files[k]] == ["overlap-Si.h5"]
    other = tiny_jobs()
    other[0] = Job("diamond-Si", "train", bulk("Si", "diamond", a=5.50))
    with pytest.raises(InputError, match="different structures with the same id.*diamond-Si"):
        build_dataset(other, out, BuildConfig(tiny_manifest()), progress=False)


def test_bad_inputs_fail_before_any_run(tmp_path):
    with pytest.raises(PseudoError, match="Xe"):
        build_dataset(
            [Job("fcc-Xe", "train", bulk("Xe", "fcc", a=6.2))],
            tmp_path / "d",
            BuildConfig(tiny_manifest()),
            progress=False,
        )
    assert not (tmp_path / "d").exists()
    jobs = tiny_jobs()
    with pytest.raises(InputError, match="unknown split.*nope.*test_binary, train"):
        select_jobs(jobs, only=["nope"])
    with pytest.raises(InputError, match="twice"):
        select_jobs(jobs + jobs[:1])
    assert [j.id for j in select_jobs(jobs, only=["train"], limit=2)] == ["diamond-Si", "diamond-C"]


def test_vc_relax_then_scf_on_the_relaxed_cell(tmp_path):
    manifest = Manifest(relax=True, overrides=dict(TINY))
    job = Job("diamond-Si", "train", bulk("Si", "diamond", a=5.6))
    report = build_dataset([job], tmp_path / "d", BuildConfig(manifest), progress=False)
    assert report.done == 1, report.failures
    with Dataset(tmp_path / "d") as ds:
        rec = ds.record("diamond-Si")
    assert rec.meta["relax"]["converged"] and rec.meta["timings"]["relax_s"] > 0
    assert rec.meta["parameters"]["control"]["calculation"] == "scf"
    # the SCF ran on the relaxed cell, not on the input one
    v_in, v_out = (abs(np.linalg.det(c)) for c in (rec.initial_cell_bohr, rec.cell_bohr))
    assert abs(v_out - v_in) / v_in > 1e-3
    assert abs(rec.rho_g[0, 0].real * v_out - 8.0) < 1e-6
