"""charge-density.dat: byte-identical round trips, G <-> grid, bad files (real pw.x files)."""
# ruff: noqa: F811  (pytest fixtures imported from conftest_files are used as arguments)

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest_files import ACS_DUMP, CASES, acs_dumps, pseudos, qe_root, run_pw  # noqa: F401  (session fixtures)

from rhocat.errors import DensityFileError
from rhocat.qe.density import (
    ChargeDensity,
    from_grid,
    read_charge_density,
    to_grid,
    write_charge_density,
)


@pytest.fixture(scope="session")
def special_dumps(qe_root, pseudos):
    """A spin-polarized (nspin=2) and a Gamma-only (gamma_only) pw.x density of small cells."""
    ni = CASES["ni"]
    ni_spin = dataclasses.replace(ni, name="nis", species={"Ni": "NiUS"}, ecutrho=200)
    spin = run_pw(
        qe_root / "dens_spin",
        ni_spin.input(
            Path("out"),
            pseudos,
            ACS_DUMP,
            ", nspin=2, starting_magnetization(1)=0.4",
        ),
    )
    si_gamma = dataclasses.replace(CASES["si"], name="sig", kpts=0)
    gamma = run_pw(qe_root / "dens_gamma", si_gamma.input(Path("out"), pseudos, ACS_DUMP))
    return {"spin": spin, "gamma": gamma}


def _files(acs_dumps, special_dumps) -> dict[str, Path]:
    out = {n: r.save / "charge-density.dat" for n, r in acs_dumps.items()}
    out.update({n: r.save / "charge-density.dat" for n, r in special_dumps.items()})
    return out


def test_read_write_is_byte_identical(acs_dumps, special_dumps, tmp_path) -> None:
    for name, path in _files(acs_dumps, special_dumps).items():
        d = read_charge_density(path)
        out = tmp_path / f"{name}.dat"
        write_charge_density(out, d)
        assert out.read_bytes() == path.read_bytes(), name
    assert not list(tmp_path.glob(".*tmp")), "temporary files left behind"


def test_header_fields(acs_dumps, special_dumps) -> None:
    si = read_charge_density(acs_dumps["si"].save / "charge-density.dat")
    assert (si.nspin, si.gamma_only) == (1, False)
    assert si.ngm == 9257  # pw.x: "Dense grid: 9257 G-vectors"
    assert "9257 G-vectors" in acs_dumps["si"].stdout
    # b is stored in 1/bohr: a_i . b_j = 2 pi delta_ij for the input cell
    np.testing.assert_allclose(CASES["si"].cell_bohr @ si.b.T, 2 * np.pi * np.eye(3), atol=1e-10)
    spin = read_charge_density(special_dumps["spin"].save / "charge-density.dat")
    assert spin.nspin == 2
    # second component is the magnetization: starting_magnetization 0.4 of 10 electrons
    omega = spin.volume_bohr3
    assert spin.rho_g[1, 0].real * omega == pytest.approx(0.4 * 10, rel=1e-6)
    gamma = read_charge_density(special_dumps["gamma"].save / "charge-density.dat")
    assert gamma.gamma_only and gamma.ngm == (si.ngm + 1) // 2


@pytest.mark.parametrize("name", ["si", "ni", "ag", "gaas", "spin", "gamma"])
def test_g_grid_g_is_exact_and_conserves_charge(name, acs_dumps, special_dumps) -> None:
    d = read_charge_density(_files(acs_dumps, special_dumps)[name])
    shape = tuple(2 * int(np.abs(d.miller[:, i]).max()) + 2 for i in range(3))
    grid = to_grid(d, shape)
    assert grid.shape == (d.nspin, *shape)
    back = from_grid(grid, d.miller)
    assert np.abs(back - d.rho_g).max() <= 1e-12 * np.abs(d.rho_g).max()
    # mean(rho) * Omega = number of electrons
    assert grid[0].mean() * d.volume_bohr3 == pytest.approx(d.n_electrons(), rel=1e-12)
    assert d.n_electrons() == pytest.approx(
        {"si": 8, "ni": 18, "ag": 19, "gaas": 18, "spin": 10, "gamma": 8}[name], rel=1e-9
    )


def test_gamma_only_half_list_gives_the_full_density(acs_dumps, special_dumps) -> None:
    """The ACS does not depend on k-points: the Gamma-trick file (half the G
    vectors) must give the same real-space density as the full file."""
    full = read_charge_density(acs_dumps["si"].save / "charge-density.dat")
    half = read_charge_density(special_dumps["gamma"].save / "charge-density.dat")
    shape = (32, 32, 32)
    np.testing.assert_allclose(to_grid(half, shape), to_grid(full, shape), rtol=0, atol=1e-13)


def test_grid_too_small_is_refused(acs_dumps) -> None:
    d = read_charge_density(acs_dumps["si"].save / "charge-density.dat")
    with pytest.raises(ValueError, match="too small"):
        to_grid(d, (8, 8, 8))


def test_negative_miller_placement() -> None:
    """A single plane wave exp(i G.r) with G = -b1 lands where numpy's FFT expects it."""
    b = 2 * np.pi * np.eye(3)  # unit cube, bohr
    miller = np.array([[0, 0, 0], [-1, 0, 0]])
    d = ChargeDensity(miller=miller, rho_g=np.array([[1.0, 0.5j]]), b=b)
    grid = to_grid(d, (5, 4, 3))
    x = np.arange(5)[:, None, None] / 5
    expected = 1.0 + (0.5j * np.exp(-2j * np.pi * x)).real
    np.testing.assert_allclose(grid[0], np.broadcast_to(expected, (5, 4, 3)), atol=1e-14)


def test_bad_files(acs_dumps, tmp_path) -> None:
    good = (acs_dumps["si"].save / "charge-density.dat").read_bytes()
    cases = {
        "truncated": good[: len(good) // 2],
        "cut_marker": good[:-2],
        "foreign": b"<?xml version='1.0'?><root/>\n" * 10,
        "empty": b"",
        "trailing": good + good[:40],
    }
    for name, data in cases.items():
        p = tmp_path / f"{name}.dat"
        p.write_bytes(data)
        with pytest.raises(DensityFileError, match="charge-density"):
            read_charge_density(p)
    with pytest.raises(DensityFileError, match="cannot read"):
        read_charge_density(tmp_path / "missing.dat")


def test_write_is_atomic(acs_dumps, tmp_path) -> None:
    """A failing write leaves the previous file intact and no temporary behind."""
    d = read_charge_density(acs_dumps["si"].save / "charge-density.dat")
    out = tmp_path / "charge-density.dat"
    write_charge_density(out, d)
    before = out.read_bytes()
    broken = ChargeDensity(miller=d.miller, rho_g=d.rho_g, b=d.b)
    broken.rho_g = np.zeros((1, 3), dtype=complex)  # inconsistent after construction
    with pytest.raises(ValueError):
        write_charge_density(out, broken)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["charge-density.dat"]
