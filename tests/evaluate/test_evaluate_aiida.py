"""``rhocat evaluate --engine aiida``: the same rows as the local engine, resumable (real pw.x)."""

from __future__ import annotations

import pytest
from ase.build import bulk

from rhocat.data.build import BuildConfig, Job, build_dataset
from rhocat.data.manifest import Manifest
from rhocat.evaluate.results import load_rows
from rhocat.evaluate.runner import evaluate
from rhocat.qe import aiida as ra

# the tool markers skip without AiiDA or pw.x, and fail instead under $CI (tests/conftest.py)
pytestmark = [pytest.mark.aiida, pytest.mark.needs_pw, pytest.mark.slow]

TINY = {"ecutwfc": 20.0, "ecutrho": 160.0, "k_points": [2, 2, 2]}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval-aiida") / "data"
    jobs = [
        Job("diamond-Si", "test_binary", bulk("Si", "diamond", a=5.43)),
        Job("zincblende-SiC", "test_binary", bulk("SiC", "zincblende", a=4.36)),
    ]
    manifest = Manifest(overrides=dict(TINY), perturb_ang=0.03, seed=1)
    report = build_dataset(jobs, out, BuildConfig(manifest, ranks=1), progress=False)
    assert report.done == 2, report.failures
    return out


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    with ra.temporary_profile(tmp_path_factory.mktemp("aiida-eval")) as prof:
        yield prof


def _calcjobs() -> int:
    from aiida.orm import CalcJobNode, QueryBuilder

    return QueryBuilder().append(CalcJobNode).count()


def test_aiida_engine_gives_the_rows_of_the_local_engine(dataset, profile, tmp_path):
    from rhocat.pretrained import load_pretrained

    model = load_pretrained()
    local = evaluate(model, dataset, tmp_path / "local", progress=False)
    through = evaluate(model, dataset, tmp_path / "aiida", progress=False, engine="aiida")
    rows_local = {r["id"]: r for r in load_rows(tmp_path / "local")}
    rows_aiida = {r["id"]: r for r in load_rows(tmp_path / "aiida")}
    assert set(rows_local) == set(rows_aiida) == {"diamond-Si", "zincblende-SiC"}
    for entry_id, a in rows_aiida.items():
        b = rows_local[entry_id]
        assert a["status"] == b["status"] == "ok" and a["converged"] and b["converged"], a
        assert a["baseline"]["iterations"] == b["baseline"]["iterations"]
        assert a["learned"]["iterations"] == b["learned"]["iterations"]
        assert a["s_auc"] == pytest.approx(b["s_auc"], abs=1e-6)
        assert a["iterations_saved"] == b["iterations_saved"]
        assert a["learned"]["energy_ry"] == pytest.approx(b["learned"]["energy_ry"], abs=1e-7)
        assert a["baseline_matches_reference"] and b["baseline_matches_reference"]
        assert set(a) == set(b)  # the same row, field for field
    assert through["s_auc"] == local["s_auc"]

    # resumable: a second evaluation (new results folder) adopts the finished work chains
    before = _calcjobs()
    evaluate(model, dataset, tmp_path / "again", progress=False, engine="aiida")
    assert _calcjobs() == before
    again = {r["id"]: r for r in load_rows(tmp_path / "again")}
    assert {k: r["s_auc"] for k, r in again.items()} == {
        k: r["s_auc"] for k, r in rows_aiida.items()
    }


def test_workers_with_the_aiida_engine_is_a_clear_error(dataset, tmp_path):
    from rhocat.errors import InputError

    with pytest.raises(InputError, match="one structure at a time"):
        evaluate(object(), dataset, tmp_path / "x", engine="aiida", workers=2)
