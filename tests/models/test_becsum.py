"""PAW occupation model: QE layout, exact equivariance, and a fit on real pw.x occupations."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from ase.build import bulk
from scipy.spatial.transform import Rotation

from rhocat.models.becsum import (
    BecsumModel,
    SpeciesLayout,
    fit_becsum_model,
    matrix_to_packed,
    packed_to_matrix,
    qe_real_ylm,
)

BOHR = 1.0 / 0.529177210903
LOW = {"system": {"ecutwfc": 25, "ecutrho": 200}}


def _layouts(symbols) -> dict[int, SpeciesLayout]:
    from ase.data import atomic_numbers

    from rhocat.qe.pseudo import load_family
    from rhocat.qe.upf import read_upf

    fam = load_family("debian-pbe")
    out = {}
    for s in symbols:
        u = read_upf(fam[s].path)
        occ = tuple(u.paw_occupations) if u.is_paw else None
        out[atomic_numbers[s]] = SpeciesLayout(tuple(u.beta_l), occ)
    return out


def _arrays(atoms):
    return atoms.numbers, atoms.positions * BOHR, atoms.cell.array * BOHR


# -- layout and conventions ------------------------------------------------------------------
def test_real_harmonics_follow_qe_ylmr2_and_are_orthonormal():
    v = np.array([[0.3, -0.5, 0.8]])
    n = v / np.linalg.norm(v)
    y = qe_real_ylm(v, 1)[0]
    c = np.sqrt(3 / (4 * np.pi))
    np.testing.assert_allclose(y[1:4], c * np.array([n[0, 2], -n[0, 0], -n[0, 1]]), atol=1e-14)
    # exact quadrature on the sphere: Gauss-Legendre in cos θ, uniform in φ
    x, w = np.polynomial.legendre.leggauss(12)
    phi = np.linspace(0, 2 * np.pi, 25, endpoint=False)
    ct, ph = np.meshgrid(x, phi, indexing="ij")
    st = np.sqrt(1 - ct**2)
    pts = np.stack([st * np.cos(ph), st * np.sin(ph), ct], axis=-1).reshape(-1, 3)
    wts = (w[:, None] * np.full(len(phi), 2 * np.pi / len(phi))[None, :]).reshape(-1)
    y = qe_real_ylm(pts, 3)
    np.testing.assert_allclose((y * wts[:, None]).T @ y, np.eye(16), atol=1e-12)


def test_packing_round_trip_and_atomic_prior_match_the_qe_layer():
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.pseudo import load_family

    gaas = bulk("GaAs", "zincblende", a=5.65)
    lay = _layouts(["Ga", "As"])
    atomic = atomic_becsum(gaas, load_family("debian-pbe")).values  # nhm = 18 (Ga)
    model = BecsumModel(lay)
    for a, z in enumerate(gaas.numbers):
        nh = lay[int(z)].nh
        mat = lay[int(z)].atomic_matrix()
        np.testing.assert_array_equal(matrix_to_packed(mat, atomic.shape[2]), atomic[0, a])
        rng = np.random.default_rng(a)
        sym = rng.normal(size=(nh, nh))
        sym = sym + sym.T
        np.testing.assert_allclose(packed_to_matrix(matrix_to_packed(sym, 171), nh), sym)
    assert model.fitted_elements() == []
    assert model.missing(gaas.numbers) == [31, 33]  # PAW, nothing fitted


def _wigner(rot: np.ndarray, ell: int) -> np.ndarray:
    """D^l(R) in QE's real basis: Y_l(R n) = D Y_l(n) (least squares on random directions)."""
    n = np.random.default_rng(0).normal(size=(60, 3))
    a = qe_real_ylm(n, ell)[:, ell * ell : (ell + 1) ** 2]
    b = qe_real_ylm(n @ rot.T, ell)[:, ell * ell : (ell + 1) ** 2]
    return np.linalg.lstsq(a, b, rcond=None)[0].T


def _random_model() -> BecsumModel:
    lay = _layouts(["Ga", "As", "Si"])  # Si: ultrasoft, a neighbour only
    model = BecsumModel(lay, {"cutoff_ang": 4.0})
    rng = np.random.default_rng(7)
    for z in (31, 33):
        ls = lay[z].beta_l
        for n1 in range(len(ls)):
            for n2 in range(n1, len(ls)):
                ncol = model._columns(
                    model.environment([z], np.zeros((1, 3)), np.eye(3) * 9), 0, ls[n1], ls[n2]
                ).shape[2]
                model.coefficients[(z, n1, n2)] = rng.normal(size=ncol) * 0.1
    return model


def test_prediction_is_equivariant_under_rotation_inversion_translation_and_permutation():
    model = _random_model()
    cell = np.array([[7.0, 0.4, 0.2], [1.1, 6.6, -0.3], [0.5, 0.8, 7.3]])
    numbers = np.array([31, 33, 14, 31])
    pos = np.array([[0.2, 0.1, 0.3], [2.1, 1.9, 1.2], [4.0, 3.1, 4.4], [1.0, 4.2, 2.5]])
    ref = model.predict_matrices(numbers, pos, cell)
    assert np.abs(ref[0] - model.layouts[31].atomic_matrix()).max() > 1e-3  # not trivial
    assert np.abs(ref[0] - ref[0].T).max() < 1e-13
    assert ref[2] is None  # Si is not PAW
    packed = model.predict(numbers, pos, cell)
    assert packed.shape == (1, 4, 18 * 19 // 2)
    assert np.all(packed[0, 2] == 0)
    for rot in (Rotation.random(random_state=3).as_matrix(), -np.eye(3)):
        perm = np.array([3, 1, 0, 2])
        shift = np.array([0.7, -1.3, 2.2])
        out = model.predict_matrices(numbers[perm], pos[perm] @ rot.T + shift, cell @ rot.T)
        for k, a in enumerate(perm):
            if ref[a] is None:
                assert out[k] is None
                continue
            lay = model.layouts[int(numbers[a])]
            d = np.zeros((lay.nh, lay.nh))
            for off, ell in zip(lay.offsets(), lay.beta_l, strict=True):
                d[off : off + 2 * ell + 1, off : off + 2 * ell + 1] = _wigner(rot, ell)
            np.testing.assert_allclose(out[k], d @ ref[a] @ d.T, atol=1e-10)


# -- real pw.x occupations --------------------------------------------------------------------
def _converged(atoms, workdir):
    from rhocat.qe.density import read_charge_density
    from rhocat.qe.paw import read_paw_txt
    from rhocat.qe.scf import run_scf

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    res = run_scf(atoms, overrides=LOW, ranks=1, workdir=workdir)
    assert res.converged, res.reason
    bec = read_paw_txt(os.path.join(res.save_dir, "paw.txt"), nat=len(atoms)).values
    return res, read_charge_density(os.path.join(res.save_dir, "charge-density.dat")), bec


@pytest.fixture(scope="module")
def paw_runs(tmp_path_factory):
    """GaAs and Ge cells (PAW) to train on; a rotated GaAs at another lattice constant unseen."""
    root = tmp_path_factory.mktemp("paw")
    gaas_r = bulk("GaAs", "zincblende", a=5.85)
    gaas_r.rattle(0.08, seed=1)
    unseen = bulk("GaAs", "zincblende", a=5.75)
    unseen.set_cell(
        unseen.cell.array @ Rotation.random(random_state=3).as_matrix().T, scale_atoms=True
    )
    cells = {
        "gaas": bulk("GaAs", "zincblende", a=5.65),
        "gaas-rattled": gaas_r,
        "ge": bulk("Ge", "diamond", a=5.70),
        "unseen": unseen,
    }
    return {k: (a, *_converged(a, root / k)) for k, a in cells.items()}


def _fit(runs):
    train = [_arrays(runs[k][0]) + (runs[k][3][0],) for k in ("gaas", "gaas-rattled", "ge")]
    return fit_becsum_model(train, _layouts(["Ga", "As", "Ge"]))


@pytest.mark.slow
def test_fitted_occupations_beat_atomic_ones_on_an_unseen_cell(paw_runs):
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.pseudo import load_family

    model = _fit(paw_runs)
    atoms, _, _, conv = paw_runs["unseen"]
    pred = model.predict(*_arrays(atoms))
    atomic = atomic_becsum(atoms, load_family("debian-pbe")).values
    ratio = np.linalg.norm(pred - conv) / np.linalg.norm(atomic - conv)
    assert ratio < 1.0, ratio


@pytest.mark.slow
def test_converged_density_with_predicted_occupations_needs_fewer_iterations(paw_runs, tmp_path):
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.paw import Becsum
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.save import write_restart
    from rhocat.qe.scf import run_scf

    model = _fit(paw_runs)
    atoms, _, density, _ = paw_runs["unseen"]
    iterations = {}
    for name, bec in (
        ("model", model.predict(*_arrays(atoms))),
        ("atomic", atomic_becsum(atoms, load_family("debian-pbe")).values),
    ):
        start = write_restart(tmp_path / f"start-{name}", density, Becsum(bec))
        res = run_scf(atoms, overrides=LOW, ranks=1, workdir=tmp_path / name, start=start)
        assert res.converged, res.reason
        iterations[name] = res.iterations
    assert iterations["model"] < iterations["atomic"], iterations


@pytest.mark.slow
def test_training_stores_the_occupation_model_and_predict_uses_it(paw_runs, tmp_path):
    from rhocat.data.sample import DensitySample
    from rhocat.models.registry import predict_becsum
    from rhocat.predict.core import predict_restart
    from rhocat.qe.acs import acs_rho_g
    from rhocat.qe.paw import read_paw_txt
    from rhocat.qe.pseudo import load_family
    from rhocat.train import load_model, train_model

    fam = load_family("debian-pbe")
    samples = []
    for k in ("gaas", "gaas-rattled", "ge", "unseen"):
        atoms, res, dens, bec = paw_runs[k]
        samples.append(
            DensitySample(
                id=k,
                numbers=atoms.numbers.copy(),
                positions_bohr=atoms.positions * BOHR,
                cell_bohr=atoms.cell.array * BOHR,
                miller=dens.miller,
                rho_g=dens.rho_g,
                rho_acs_g=acs_rho_g(atoms, fam, dens.miller),
                fft_grid=tuple(res.fft_grid),
                split="val" if k == "unseen" else "train",
                meta={"pseudos": res.pseudos, "paw": {"becsum": bec}},
            )
        )
    out = tmp_path / "m.pt"
    result = train_model(samples, model="radial", out=out, progress=False,
                         metadata={"pseudo_family": "debian-pbe"})  # fmt: skip
    occ = result.model.becsum_model
    assert occ.fitted_elements() == [31, 32, 33]
    assert occ.metrics["val_error_vs_atomic"] < 1.0
    loaded = load_model(out)  # weights_only checkpoint
    atoms = paw_runs["unseen"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fitted model predicts without a warning
        got = predict_becsum(loaded, *_arrays(atoms))
    np.testing.assert_allclose(got, occ.predict(*_arrays(atoms)), atol=1e-12)

    res = predict_restart(loaded, atoms, out_dir=tmp_path / "start", overrides=LOW)
    assert res.becsum_source == "model"
    written = read_paw_txt(tmp_path / "start" / "paw.txt", nat=2).values
    np.testing.assert_allclose(written, got, rtol=1e-15, atol=1e-300)

    cr = bulk("Cr", "bcc", a=2.88)  # PAW, never fitted: atomic fallback with a warning
    with pytest.warns(UserWarning, match="no PAW occupation model for Cr"):
        assert predict_becsum(occ, *_arrays(cr)) is None
