"""rhocat.predict: restart folders from a structure + pseudopotentials + model (no dataset)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from ase.build import bulk

from rhocat.errors import InputError, ModelError
from rhocat.predict import PredictionResult, constrain_density, predict_many, predict_restart
from rhocat.qe.acs import acs_rho_g
from rhocat.qe.density import read_charge_density, to_grid
from rhocat.qe.gvectors import QE_BOHR_ANGSTROM as BOHR  # pw.x's bohr
from rhocat.qe.gvectors import fft_grid_shape, g_cartesian, miller_indices
from rhocat.qe.pseudo import load_family


class ToyModel:
    """A legitimate test model: Δρ(G) = scale × (a fixed Gaussian bump per atom), G = 0 excluded.

    With ``scale = 0`` it is the zero model (the prediction is the ACS itself).
    """

    def __init__(self, elements=("Si", "C", "Ge", "As", "Ga"), scale=0.0, width=1.0):
        self.elements = set(elements)
        self.scale = scale
        self.width = width

    def check_elements(self, symbols, allow_unseen=False):
        unseen = sorted(set(symbols) - self.elements)
        if unseen and not allow_unseen:
            raise ModelError(f"the toy model never saw {', '.join(unseen)}")

    def delta_rho_g(self, numbers, positions_bohr, cell_bohr, g_cart):
        g2 = (g_cart**2).sum(axis=1)
        volume = abs(np.linalg.det(cell_bohr))
        phase = np.exp(-1j * g_cart @ np.asarray(positions_bohr).T).sum(axis=1)
        out = self.scale * np.exp(-g2 * self.width**2 / 4) * phase / volume
        out[g2 == 0] = 0
        return out


@pytest.fixture
def si():
    return bulk("Si", "diamond", a=5.43)


def test_zero_model_writes_exactly_the_acs(tmp_path, si):
    res = predict_restart(ToyModel(), si, family="debian-pbe", out_dir=tmp_path / "si")
    assert isinstance(res, PredictionResult)
    assert (tmp_path / "si" / "charge-density.dat").is_file()
    assert not (tmp_path / "si" / "paw.txt").exists()  # Si is ultrasoft: no occupations
    assert res.becsum_source == "none"
    dens = read_charge_density(tmp_path / "si" / "charge-density.dat")
    cell = si.cell.array / BOHR
    miller = miller_indices(cell, 240.0)  # debian-pbe Si: ecutrho 240 Ry
    assert np.array_equal(dens.miller, miller)
    acs = acs_rho_g(si, load_family("debian-pbe"), miller)
    np.testing.assert_array_equal(dens.rho_g[0], acs)  # bit for bit
    omega = si.get_volume() / BOHR**3
    assert dens.rho_g[0, 0].real * omega == pytest.approx(8.0, rel=1e-7)
    assert res.n_electrons == 8.0 and res.clipped_fraction == 0.0
    assert res.ngm == len(miller) and res.ecutrho_ry == 240.0
    meta = json.loads((tmp_path / "si" / "prediction.json").read_text())
    assert meta["n_electrons"] == 8.0


def test_negative_density_is_clipped_and_renormalised(tmp_path, si):
    # a large negative bump on every atom drives the density below zero near the nuclei
    model = ToyModel(scale=-40.0, width=0.8)
    res = predict_restart(model, si, out_dir=tmp_path / "neg")
    assert res.negative_fraction > 0.001
    assert res.clipped_fraction > 0.0 and res.clipped_charge > 0.0
    dens = read_charge_density(tmp_path / "neg" / "charge-density.dat")
    assert dens.rho_g[0, 0].real * si.get_volume() / BOHR**3 == pytest.approx(8.0, rel=1e-12)
    grid = to_grid(dens, res.fft_grid)[0]
    raw = model.delta_rho_g(
        si.numbers,
        si.positions / BOHR,
        si.cell.array / BOHR,
        g_cartesian(si.cell.array / BOHR, dens.miller),
    )
    raw_grid = to_grid(
        type(dens)(
            miller=dens.miller,
            rho_g=(acs_rho_g(si, load_family("debian-pbe"), dens.miller) + raw)[None],
            b=dens.b,
        ),
        res.fft_grid,
    )[0]
    # far fewer and shallower negative values than the raw prediction
    assert np.mean(grid < 0) < 0.5 * np.mean(raw_grid < 0)
    assert grid.min() > 0.5 * raw_grid.min()


def test_constrain_density_keeps_a_positive_prediction_and_fixes_the_count():
    cell = np.eye(3) * 8.0
    miller = miller_indices(cell, 40.0)
    shape = fft_grid_shape(cell, 40.0)
    rho = np.zeros(len(miller), complex)
    rho[0] = 10.0 / 512.0  # uniform, 10 electrons
    delta = np.zeros_like(rho)
    delta[1] = 1e-4
    delta[0] = 0.0
    out, stats = constrain_density(rho, delta, miller, cell, shape, 12.0)
    assert stats["clipped_fraction"] == 0.0 and stats["negative_fraction"] == 0.0
    assert stats["n_electrons_raw"] == pytest.approx(10.0)
    assert out[0].real * 512 == pytest.approx(12.0)
    np.testing.assert_allclose(out, (rho + delta) * 1.2)


def test_model_missing_an_element_writes_nothing(tmp_path):
    sic = bulk("SiC", "zincblende", a=4.36)
    with pytest.raises(ModelError, match="never saw C"):
        predict_restart(ToyModel(elements=("Si",)), sic, out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert list(tmp_path.iterdir()) == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = predict_restart(
            ToyModel(elements=("Si",)), sic, out_dir=tmp_path / "x", allow_unseen=True
        )
    assert res.n_electrons == 8.0


def test_refuses_to_overwrite_a_foreign_folder(tmp_path, si):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("...")
    with pytest.raises(InputError, match="not empty"):
        predict_restart(ToyModel(), si, out_dir=tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "..."
    # a previous prediction is refused too (the rule of rhocat acs), replaced in place
    # with overwrite=True (--force)
    predict_restart(ToyModel(), si, out_dir=tmp_path / "p")
    with pytest.raises(InputError, match="--force"):
        predict_restart(ToyModel(scale=0.5), si, out_dir=tmp_path / "p")
    predict_restart(ToyModel(scale=0.5), si, out_dir=tmp_path / "p", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [
        "charge-density.dat",
        "prediction.json",
    ]


def test_paw_species_get_atomic_occupations_with_a_warning(tmp_path):
    gaas = bulk("GaAs", "zincblende", a=5.75)
    with pytest.warns(UserWarning, match="atomic-fallback"):
        res = predict_restart(ToyModel(), gaas, out_dir=tmp_path / "gaas")
    assert res.becsum_source == "atomic-fallback"
    assert (tmp_path / "gaas" / "paw.txt").stat().st_size > 100


def test_paw_occupations_from_the_model_are_used(tmp_path):
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.paw import read_paw_txt

    gaas = bulk("GaAs", "zincblende", a=5.75)
    atomic = atomic_becsum(gaas, load_family("debian-pbe")).values

    class WithOccupations(ToyModel):
        def predict_becsum(self, numbers, positions_bohr, cell_bohr):
            return atomic[0] * 0.9  # (nat, nij)

    res = predict_restart(WithOccupations(), gaas, out_dir=tmp_path / "gaas")
    assert res.becsum_source == "model"
    back = read_paw_txt(tmp_path / "gaas" / "paw.txt", nat=2)
    np.testing.assert_allclose(back.values, atomic * 0.9, rtol=1e-12)

    class BadShape(ToyModel):
        def predict_becsum(self, numbers, positions_bohr, cell_bohr):
            return np.zeros((2, 3))

    with pytest.raises(ModelError, match="shape"):
        predict_restart(BadShape(), gaas, out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_a_card_that_asks_for_atomic_occupations_gets_them_without_a_warning(tmp_path, si):
    """warm_occupations = "atomic" on the card: the model's occupations are not used, the
    noise-free atomic ones are written and the record says so; without PAW species
    nothing changes."""
    import warnings

    from rhocat.predict.core import OCCUPATIONS_KEY, warm_occupations
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.paw import read_paw_txt

    gaas = bulk("GaAs", "zincblende", a=5.75)
    atomic = atomic_becsum(gaas, load_family("debian-pbe")).values

    class WithOccupations(ToyModel):
        def predict_becsum(self, numbers, positions_bohr, cell_bohr):
            return atomic[0] * 0.9

    model = WithOccupations()
    assert warm_occupations(model) == "model"
    for bad in ("ATOMIC", 1, None):
        model.metadata = {OCCUPATIONS_KEY: bad}
        assert warm_occupations(model) == "model"
    model.metadata = {OCCUPATIONS_KEY: "atomic"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = predict_restart(model, gaas, out_dir=tmp_path / "gaas")
    assert res.becsum_source == "atomic"
    back = read_paw_txt(tmp_path / "gaas" / "paw.txt", nat=2)
    np.testing.assert_allclose(back.values, atomic, rtol=1e-12)
    record = json.loads((tmp_path / "gaas" / "prediction.json").read_text())
    assert record["becsum_source"] == "atomic"
    res = predict_restart(model, si, out_dir=tmp_path / "si")
    assert res.becsum_source == "none" and not (tmp_path / "si" / "paw.txt").exists()


def test_cube_and_xsf_exports(tmp_path, si):
    res = predict_restart(
        ToyModel(scale=0.3),
        si,
        out_dir=tmp_path / "r",
        cube=tmp_path / "si.cube",
        xsf=tmp_path / "si.xsf",
    )
    from ase.io.cube import read_cube_data

    data, atoms = read_cube_data(str(tmp_path / "si.cube"))
    assert data.shape == res.fft_grid
    assert len(atoms) == 2
    # cube values are e/bohr³: mean × Ω(bohr³) = electrons
    omega = si.get_volume() / BOHR**3
    assert data.mean() * omega == pytest.approx(8.0, rel=1e-6)
    text = (tmp_path / "si.xsf").read_text()
    assert "BEGIN_DATAGRID_3D" in text and "PRIMVEC" in text
    from rhocat.predict import export_grid

    with pytest.raises(InputError, match="cube or xsf"):
        export_grid(tmp_path / "x.vasp", si, np.zeros((4, 4, 4)))


def test_predict_many_amortises_and_checks_everything_first(tmp_path, si):
    sic = bulk("SiC", "zincblende", a=4.36)
    model = ToyModel(elements=("Si", "C"), scale=0.1)
    results = predict_many(model, [("si", si), ("sic", sic)], tmp_path / "out", cube=True)
    assert [r.name for r in results] == ["si", "sic"]
    assert (tmp_path / "out" / "sic" / "charge-density.dat").is_file()
    assert (tmp_path / "out" / "si.cube").is_file()
    with pytest.raises(InputError, match="share the name"):
        predict_many(model, [("a", si), ("a", sic)], tmp_path / "dup")
    ge = bulk("Ge", "diamond", a=5.66)
    with pytest.raises(ModelError):
        predict_many(model, [("si", si), ("ge", ge)], tmp_path / "partial")
    assert not (tmp_path / "partial").exists()  # nothing written for the good one either
