"""The ACS in Python against pw.x's own, and restarts from rhocat's folders (real pw.x)."""
# ruff: noqa: F811  (pytest fixtures imported from conftest_files are used as arguments)

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest_files import (  # noqa: F401  (session fixtures)
    CASES,
    SAME_START,
    acs_dumps,
    pseudos,
    qe_root,
    run_pw,
)

from rhocat.errors import PseudoError
from rhocat.qe.acs import acs_rho_g, atomic_becsum, radial_rho_g, radial_rho_g_table
from rhocat.qe.density import ChargeDensity, read_charge_density
from rhocat.qe.gvectors import miller_indices, reciprocal_vectors
from rhocat.qe.paw import read_paw_txt
from rhocat.qe.save import write_restart

pytestmark = pytest.mark.needs_pw


def _rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _acs_density(name: str, pseudo_dir: Path) -> ChargeDensity:
    case = CASES[name]
    miller = miller_indices(case.cell_bohr, case.ecutrho)
    rho = acs_rho_g(case.atoms(), case.family(pseudo_dir), miller)
    return ChargeDensity(miller, rho[None], reciprocal_vectors(case.cell_bohr))


@pytest.mark.parametrize("name", ["si", "ni", "ag", "gaas"])  # US, PAW, NC, two-element PAW
def test_acs_identity_with_pw(name, acs_dumps, pseudos) -> None:
    ref = read_charge_density(acs_dumps[name].save / "charge-density.dat")
    ours = _acs_density(name, pseudos)
    np.testing.assert_array_equal(ours.miller, ref.miller)
    assert _rel_l2(ours.rho_g, ref.rho_g) < 1e-8
    # pw.x renormalised the superposition to the valence charge; so did we
    assert "renormalised to" in acs_dumps[name].stdout
    assert ours.n_electrons() == pytest.approx(ref.n_electrons(), rel=1e-12)


@pytest.mark.parametrize("name", ["si", "gaas"])
def test_acs_in_any_g_order_and_table_path(name, acs_dumps, pseudos) -> None:
    case = CASES[name]
    ref = read_charge_density(acs_dumps[name].save / "charge-density.dat")
    perm = np.random.default_rng(1).permutation(ref.ngm)
    fam = case.family(pseudos)
    shuffled = acs_rho_g(case.atoms(), fam, ref.miller[perm])
    assert _rel_l2(shuffled, ref.rho_g[0, perm]) < 1e-12
    table = acs_rho_g(case.atoms(), fam, ref.miller, method="table")
    assert _rel_l2(table, ref.rho_g[0]) < 1e-9


def test_radial_table_matches_quadrature(pseudos) -> None:
    q = np.linspace(0.0, 25.0, 3001)
    for path in _all_families(pseudos).values():  # Si, Ni, Ag, Ga, As
        exact = radial_rho_g(path, q)
        assert np.abs(radial_rho_g_table(path, q) - exact).max() < 1e-10 * exact[0]


def _all_families(pseudo_dir: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for case in CASES.values():
        out.update(case.family(pseudo_dir))
    return out


@pytest.mark.parametrize("name", ["ni", "gaas"])
def test_atomic_becsum_equals_pw(name, acs_dumps, pseudos) -> None:
    case = CASES[name]
    ours = atomic_becsum(case.atoms(), case.family(pseudos))
    ref = read_paw_txt(acs_dumps[name].save / "paw.txt", nat=len(case.positions))
    assert ours.values.shape == ref.values.shape
    # pw.x symmetrizes the atomic occupations: round-off of 1e-14
    np.testing.assert_allclose(ours.values, ref.values, rtol=0, atol=1e-12)


def test_becsum_none_without_paw(pseudos) -> None:
    for name in ("si", "ag"):
        assert atomic_becsum(CASES[name].atoms(), CASES[name].family(pseudos)) is None


def test_missing_element_is_named(pseudos) -> None:
    atoms = CASES["gaas"].atoms()
    with pytest.raises(PseudoError, match="'As'"):
        acs_rho_g(atoms, {"Ga": CASES["gaas"].family(pseudos)["Ga"]}, np.zeros((1, 3), int))


def _restart_run(name: str, root: Path, pseudo_dir: Path, fill, electrons: str) -> object:
    case = CASES[name]
    wd = root / f"restart_{name}_{fill.__name__}"
    if wd.exists():
        shutil.rmtree(wd)
    fill(wd / "out" / f"{case.name}.save")
    return run_pw(wd, case.input(Path("out"), pseudo_dir, electrons))


@pytest.mark.parametrize("name", ["si", "gaas"])  # US, and two-element PAW
def test_restart_from_rhocat_acs_reproduces_atomic_start(name, qe_root, pseudos) -> None:
    case = CASES[name]
    atomic = run_pw(
        qe_root / f"atomic_{name}",
        case.input(Path("out"), pseudos, "startingpot='atomic', " + SAME_START),
    )
    atoms, fam = case.atoms(), case.family(pseudos)

    def acs(save: Path) -> None:
        write_restart(save, _acs_density(name, pseudos), atomic_becsum(atoms, fam))

    # same first-diagonalization threshold as the atomic start (see SAME_START)
    restart = _restart_run(name, qe_root, pseudos, acs, "startingpot='file', " + SAME_START)
    assert "The initial density is read from file" in restart.stdout
    assert atomic.iterations is not None and restart.iterations == atomic.iterations
    assert len(restart.accuracies) == len(atomic.accuracies)
    for a, b in zip(restart.accuracies, atomic.accuracies, strict=True):
        assert float(f"{a:.3g}") == float(f"{b:.3g}")

    # a converged density (rewritten by rhocat) restarts in at most 3 iterations,
    # with pw.x's default for file starts (a strict first diagonalization, 1e-5)
    def converged(save: Path) -> None:
        d = read_charge_density(atomic.save / "charge-density.dat")
        bec = None
        if (atomic.save / "paw.txt").is_file():
            bec = read_paw_txt(atomic.save / "paw.txt", nat=len(atoms))
        write_restart(save, d, bec)

    again = _restart_run(name, qe_root, pseudos, converged, "startingpot='file'")
    assert again.iterations is not None and again.iterations <= 3


def test_write_restart_folder(pseudos, tmp_path) -> None:
    d = _acs_density("gaas", pseudos)
    case = CASES["gaas"]
    bec = atomic_becsum(case.atoms(), case.family(pseudos))
    out = write_restart(tmp_path / "run" / "x.save", d, bec)
    assert sorted(p.name for p in out.iterdir()) == ["charge-density.dat", "paw.txt"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["x.save"]  # no temp left
    np.testing.assert_array_equal(read_charge_density(out / "charge-density.dat").rho_g, d.rho_g)
    np.testing.assert_allclose(read_paw_txt(out / "paw.txt", nat=2).values, bec.values)
    # an existing folder: files replaced, other files kept
    (out / "data-file-schema.xml").write_text("<keep/>")
    write_restart(out, d)
    assert (out / "data-file-schema.xml").read_text() == "<keep/>"
    with pytest.raises(ValueError, match="spin"):
        write_restart(tmp_path / "bad.save", d, type(bec)(np.zeros((2, 2, bec.values.shape[2]))))
    assert not (tmp_path / "bad.save").exists()


def test_copy_restart_replaces_only_what_it_is_given(pseudos, tmp_path) -> None:
    """The ACS beside a start folder: copy_restart keeps the template's other files and
    replaces the density and the occupations only where given; acs_like is the ACS on
    the template density's own G list."""
    from rhocat.qe.save import copy_restart
    from rhocat.qe.start import acs_like

    case = CASES["gaas"]
    atoms, fam = case.atoms(), case.family(pseudos)
    d = _acs_density("gaas", pseudos)
    bec = atomic_becsum(atoms, fam)
    template = write_restart(
        tmp_path / "pred.save", type(d)(miller=d.miller, rho_g=2 * d.rho_g, b=d.b)
    )
    (template / "prediction.json").write_text("{}")
    acs = acs_like(read_charge_density(template / "charge-density.dat"), atoms, fam)
    np.testing.assert_allclose(acs.rho_g, d.rho_g, rtol=0, atol=1e-14)
    out = copy_restart(template, tmp_path / "acs.save", acs, bec)
    assert sorted(p.name for p in out.iterdir()) == [
        "charge-density.dat",
        "paw.txt",
        "prediction.json",
    ]
    np.testing.assert_array_equal(read_charge_density(out / "charge-density.dat").rho_g, d.rho_g)
    np.testing.assert_allclose(read_paw_txt(out / "paw.txt", nat=2).values, bec.values)
    same = copy_restart(template, tmp_path / "same.save")  # nothing given: a plain copy
    assert (same / "charge-density.dat").read_bytes() == (
        template / "charge-density.dat"
    ).read_bytes()
    assert not (same / "paw.txt").exists()
    with pytest.raises(FileExistsError):
        copy_restart(template, out)
