"""benchmarks/train_fit.py: how the shipped model fits its training structures beside validation."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks.shared import DATASET, MODEL, needs_dataset

# isort: split
import train_fit  # benchmarks/ is on the path (tests.benchmarks.shared)

pytestmark = needs_dataset

TRAIN = ["zincblende-CrAs", "CsCl-CuAs", "CsCl-AsRh", "CdI2-AsI2"]
VAL = ["rocksalt-CrN", "zincblende-CrC"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fit")
    snap = tmp / "snap.json"
    snap.write_text(json.dumps({"train": TRAIN, "val": VAL}))
    out = tmp / "fit.json"
    args = ["--dataset", str(DATASET), "--snapshot", str(snap), "-o", str(out)]
    assert train_fit.main([str(MODEL), *args]) == 0
    ensemble = json.loads(out.read_text())["models"][str(MODEL)]
    assert train_fit.main([str(MODEL), *args, "--member", "0"]) == 0
    member = json.loads(out.read_text())["models"][str(MODEL)]
    return ensemble, member


def test_figures_per_split_agree_with_the_cells(report):
    ensemble, _ = report
    assert set(ensemble) == {"train", "val"}
    train = ensemble["train"]
    assert set(train["cells"]) == set(TRAIN) and train["n"] == 4
    assert train["captured_worst_pct"] == min(train["cells"].values())
    assert train["elements"]["As"]["n"] == 4 and train["elements"]["Cr"]["n"] == 1
    # one structure of four is the smallest quarter; the two parts share the whole error
    small, rest = train["small_delta_rho"], train["rest"]
    assert small["n"] == 1 and rest["n"] == 3
    assert small["error_share"] + rest["error_share"] == pytest.approx(1.0)
    assert small["max_delta_rho_hartree_per_atom_ry"] < rest["max_delta_rho_hartree_per_atom_ry"]
    # the layered iodide is the shipped model's worst-fitted training structure (Δρ is small)
    assert small["captured_mean_pct"] == train["cells"]["CdI2-AsI2"]


def test_a_member_alone_is_not_the_ensemble(report):
    ensemble, member = report
    assert ensemble["train"]["cells"] != member["train"]["cells"]
    assert member["val"]["n"] == 2


def test_pooled_share_weights_structures_by_their_delta_rho():
    rows = [
        {"id": "a", "captured_pct": 50.0, "hartree_ry": 1.0, "hartree_acs_ry": 2.0},
        {"id": "b", "captured_pct": 90.0, "hartree_ry": 1.0, "hartree_acs_ry": 10.0},
        {"id": "c", "captured_pct": 99.0, "hartree_ry": 0.1, "hartree_acs_ry": 10.0},
        {"id": "d", "captured_pct": 80.0, "hartree_ry": 2.0, "hartree_acs_ry": 10.0},
    ]
    fig = train_fit.fit_figures(rows, [1, 1, 1, 1], [{"X"}, {"X"}, {"Y"}, {"Y"}])
    assert fig["captured_pooled_pct"] == pytest.approx(100 * (1 - 4.1 / 32))
    assert fig["captured_mean_pct"] == pytest.approx(79.75)
    assert fig["small_delta_rho"]["n"] == 1
    assert fig["small_delta_rho"]["error_share"] == pytest.approx(1.0 / 4.1)
    assert fig["elements"]["Y"]["captured_mean_pct"] == pytest.approx(89.5)
    assert fig["elements"]["X"]["error_share"] == pytest.approx(2.0 / 4.1)


def test_binaries_and_ternaries_are_pooled_apart():
    rows = [
        {"id": "a", "captured_pct": 50.0, "hartree_ry": 1.0, "hartree_acs_ry": 2.0},
        {"id": "b", "captured_pct": 90.0, "hartree_ry": 1.0, "hartree_acs_ry": 10.0},
        {"id": "c", "captured_pct": 99.0, "hartree_ry": 0.1, "hartree_acs_ry": 10.0},
    ]
    fig = train_fit.fit_figures(rows, [2, 2, 3], [{"X", "Y"}, {"X", "Z"}, {"X", "Y", "Z"}])
    two, three = fig["by_n_elements"]["2"], fig["by_n_elements"]["3"]
    assert set(fig["by_n_elements"]) == {"2", "3"} and (two["n"], three["n"]) == (2, 1)
    assert two["captured_pooled_pct"] == pytest.approx(100 * (1 - 2.0 / 12))
    assert three["captured_pooled_pct"] == pytest.approx(99.0)
    assert two["error_share"] + three["error_share"] == pytest.approx(1.0)


def test_an_unknown_split_is_refused(tmp_path):
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps({"train": TRAIN[:1], "val": VAL[:1]}))
    with pytest.raises(SystemExit):
        train_fit.main([str(MODEL), "--dataset", str(DATASET), "--snapshot", str(snap),
                        "--splits", "train,test", "-o", str(tmp_path / "x.json")])  # fmt: skip
