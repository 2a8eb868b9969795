"""G-vector list, order and FFT grid against real pw.x runs (cubic, fcc, hexagonal, triclinic)."""
# ruff: noqa: F811  (pytest fixtures imported from conftest_files are used as arguments)

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest_files import (  # noqa: F401  (session fixtures)
    ACS_DUMP,
    CASES,
    SAME_START,
    Case,
    acs_dumps,
    fcc,
    pseudos,
    qe_root,
    run_pw,
)

from rhocat.errors import DensityFileError
from rhocat.qe.density import ChargeDensity, read_charge_density, write_charge_density
from rhocat.qe.gvectors import (
    check_density_gvectors,
    fft_grid_shape,
    g_cartesian,
    good_fft_order,
    miller_indices,
    reciprocal_vectors,
    symmetry_fft_factors,
)

SQ3 = np.sqrt(3) / 2
GEOMETRY_CASES = {
    # simple cubic with a bcc basis: a supercell, so pw.x disables fractional translations
    "cubic": Case(
        "cub", np.diag([9.5] * 3), {"Si": "Si"}, [("Si", (0, 0, 0)), ("Si", (0.5,) * 3)], 12, 96
    ),
    # diamond: fractional translations 1/4 -> FFT dimensions multiple of 4
    "fcc": Case("fcc", fcc(10.26), {"Si": "Si"}, [("Si", (0, 0, 0)), ("Si", (0.25,) * 3)], 17, 137),
    # hcp-like: 6_3 screw, ft 1/2 along c
    "hex": Case(
        "hex",
        np.array([[7.3, 0, 0], [-3.65, 7.3 * SQ3, 0], [0, 0, 12.1]]),
        {"Si": "Si"},
        [("Si", (1 / 3, 2 / 3, 0.25)), ("Si", (2 / 3, 1 / 3, 0.75))],
        12,
        96,
    ),
    "triclinic": Case(
        "tri",
        np.array([[7.9, 0.3, -0.2], [1.7, 8.4, 0.5], [-0.9, 1.3, 9.1]]),
        {"Si": "Si"},
        [("Si", (0.02, 0.03, 0.01)), ("Si", (0.47, 0.55, 0.49))],
        12,
        96,
        kpts=1,
    ),
}


@pytest.fixture(scope="session")
def geometry_dumps(qe_root, pseudos):
    out = {}
    for name, case in GEOMETRY_CASES.items():
        out[name] = run_pw(qe_root / f"geo_{name}", case.input(Path("out"), pseudos, ACS_DUMP))
    tri_gamma = dataclasses.replace(GEOMETRY_CASES["triclinic"], name="trig", kpts=0)
    out["triclinic_gamma"] = run_pw(
        qe_root / "geo_trig", tri_gamma.input(Path("out"), pseudos, ACS_DUMP)
    )
    return out


@pytest.mark.parametrize("name", [*GEOMETRY_CASES, "triclinic_gamma"])
def test_miller_list_and_order_equal_pw(name, geometry_dumps) -> None:
    case = GEOMETRY_CASES[name.replace("_gamma", "")]
    run = geometry_dumps[name]
    d = read_charge_density(run.save / "charge-density.dat")
    ours = miller_indices(case.cell_bohr, case.ecutrho, gamma_only=d.gamma_only)
    assert d.gamma_only == name.endswith("_gamma")
    assert ours.shape == d.miller.shape
    np.testing.assert_array_equal(ours, d.miller)  # same set, same order
    np.testing.assert_allclose(reciprocal_vectors(case.cell_bohr), d.b, rtol=1e-10, atol=1e-12)
    check_density_gvectors(d, case.cell_bohr, case.ecutrho)  # does not raise


@pytest.mark.parametrize("name", list(GEOMETRY_CASES))
def test_fft_grid_equals_pw(name, geometry_dumps) -> None:
    case = GEOMETRY_CASES[name]
    atoms = case.atoms()
    fact = symmetry_fft_factors(case.cell_bohr, atoms.get_scaled_positions(), atoms.numbers)
    assert fft_grid_shape(case.cell_bohr, case.ecutrho, fact) == geometry_dumps[name].fft_grid
    expected_fact = {"cubic": (1, 1, 1), "fcc": (4, 4, 4), "hex": (1, 1, 2), "triclinic": (1, 1, 1)}
    assert fact == expected_fact[name]


def test_good_fft_order() -> None:
    assert [good_fft_order(n) for n in (7, 11, 13, 17, 31, 49)] == [8, 12, 15, 18, 32, 50]
    assert good_fft_order(27, 4) == 32
    assert good_fft_order(45, 2) == 48


def test_every_g_inside_the_sphere_and_none_missing() -> None:
    cell = GEOMETRY_CASES["triclinic"].cell_bohr
    ecut = 60.0
    m = miller_indices(cell, ecut)
    g2 = (g_cartesian(cell, m) ** 2).sum(axis=1)
    assert g2.max() <= ecut * (1 + 1e-12)
    assert np.all(np.diff(g2) > -1e-8 * g2.max())  # sorted by |G|^2
    assert len({tuple(x) for x in m}) == len(m)
    # brute force: every lattice vector with |G|^2 <= ecut is in the list
    r = np.arange(-12, 13)
    allm = np.stack(np.meshgrid(r, r, r, indexing="ij"), axis=-1).reshape(-1, 3)
    inside = ((g_cartesian(cell, allm) ** 2).sum(axis=1) <= ecut).sum()
    assert inside == len(m)
    np.testing.assert_array_equal(m[0], [0, 0, 0])


def test_g_cartesian_units() -> None:
    cell = fcc(10.26)
    g = g_cartesian(cell, np.eye(3, dtype=int))
    np.testing.assert_allclose(cell @ g.T, 2 * np.pi * np.eye(3), atol=1e-12)


def test_pw_reads_the_density_by_position(acs_dumps, pseudos, qe_root) -> None:
    """pw.x ignores the Miller record when reading: the same (G, rho) pairs in
    another order are read as a different density. So rhocat must (and does)
    write pw.x's own order."""
    case = CASES["si"]
    src = read_charge_density(acs_dumps["si"].save / "charge-density.dat")
    runs = {}
    for label, perm in {
        "same": np.arange(src.ngm),
        "shuffled": np.concatenate([[0], 1 + np.random.default_rng(0).permutation(src.ngm - 1)]),
    }.items():
        d = ChargeDensity(src.miller[perm], src.rho_g[:, perm], src.b)
        wd = qe_root / f"order_{label}"
        save = wd / "out" / "si.save"
        save.mkdir(parents=True)
        write_charge_density(save / "charge-density.dat", d)
        electrons = (
            "electron_maxstep=1, scf_must_converge=.false., startingpot='file', " + SAME_START
        )
        runs[label] = run_pw(wd, case.input(Path("out"), pseudos, electrons))
    atomic = acs_dumps["si"]
    assert "The initial density is read from file" in runs["same"].stdout
    first = {k: r.accuracies[0] for k, r in runs.items()}
    ref = run_pw(
        qe_root / "order_atomic",
        case.input(
            Path("out"), pseudos, "electron_maxstep=1, scf_must_converge=.false., " + SAME_START
        ),
    ).accuracies[0]
    assert first["same"] == pytest.approx(ref, rel=1e-6)
    assert abs(first["shuffled"] - ref) > 0.1 * ref
    assert atomic.save.is_dir()


def test_mismatch_raises(acs_dumps) -> None:
    d = read_charge_density(acs_dumps["si"].save / "charge-density.dat")
    case = CASES["si"]
    with pytest.raises(DensityFileError, match="another cutoff"):
        check_density_gvectors(d, case.cell_bohr, 120.0)
    with pytest.raises(DensityFileError, match="another cell"):
        check_density_gvectors(d, fcc(10.5), case.ecutrho)
    swapped = ChargeDensity(d.miller[[0, 2, 1, *range(3, d.ngm)]], d.rho_g, d.b)
    with pytest.raises(DensityFileError, match="order"):
        check_density_gvectors(swapped, case.cell_bohr, case.ecutrho)


#: CsCl FeSi as CHGNet relaxes it: cubic to ~1e-8 Å only (Å).
NEARLY_CUBIC = [
    [2.7585252869269627, -5.831273519862167e-10, 1.39444193956252e-09],
    [-5.831276373927189e-10, 2.758525265297093, -5.956102885819204e-09],
    [1.394441780953469e-09, -5.956103676457801e-09, 2.758525255507902],
]


def test_order_of_a_nearly_symmetric_cell_equals_pw(tmp_path) -> None:
    """|G|² ties broken at ~1e-8 need QE's own fuzzy heapsort and the cell as printed."""
    from ase import Atoms

    from rhocat.qe.scf import run_scf
    from rhocat.qe.start import cell_bohr

    atoms = Atoms("FeSi", cell=NEARLY_CUBIC, pbc=True,
                  positions=[[0, 0, 0], [1.37926264, 1.37926262, 1.37926263]])  # fmt: skip
    ecutrho = 160.0
    res = run_scf(
        atoms, ranks=1, workdir=tmp_path,
        overrides={"system": {"ecutwfc": 20.0, "ecutrho": ecutrho}, "k_points": [1, 1, 1],
                   "electrons": {"electron_maxstep": 0, "scf_must_converge": False}},
    )  # fmt: skip
    d = read_charge_density(Path(res.save_dir) / "charge-density.dat")
    np.testing.assert_array_equal(miller_indices(cell_bohr(atoms), ecutrho), d.miller)
    # the plain (cluster) sort, or the unrounded cell, would not give pw.x's order
    assert not np.array_equal(miller_indices(cell_bohr(atoms), ecutrho, written=False), d.miller)
