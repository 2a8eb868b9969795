"""Model kinds by name, and the one prediction call the rest of rhocat uses."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
from ase.data import chemical_symbols

from rhocat.errors import ModelError
from rhocat.models.base import DensityModel
from rhocat.models.becsum import BecsumModel
from rhocat.models.ensemble import EnsembleModel
from rhocat.models.equivariant import EquivariantBasisModel
from rhocat.models.pointwise import PointwiseModel
from rhocat.models.radial import RadialModel

MODEL_KINDS: dict[str, type[DensityModel]] = {
    "basis": EquivariantBasisModel,
    "radial": RadialModel,
    "pointwise": PointwiseModel,
    "ensemble": EnsembleModel,
}


def build_model(kind: str, config: dict, elements: Iterable[int]) -> DensityModel:
    """A fresh model of ``kind`` ('basis', 'radial', 'pointwise') for the given elements."""
    if kind not in MODEL_KINDS:
        raise ModelError(f"unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    return MODEL_KINDS[kind](dict(config), elements)


def predict_delta_rho_g(
    model: DensityModel,
    numbers: np.ndarray,
    positions_bohr: np.ndarray,
    cell_bohr: np.ndarray,
    miller: np.ndarray,
    fft_grid: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """Δρ(G) = ρ_SCF − ρ_ACS predicted on QE's G list, any model kind.

    Args:
        model: a trained model (see :func:`rhocat.train.load_model`).
        numbers: (n_atoms,) atomic numbers.
        positions_bohr: (n_atoms, 3) Cartesian positions, bohr.
        cell_bohr: (3, 3) lattice vectors as rows, bohr.
        miller: (ngm, 3) Miller indices of the G vectors (QE order).
        fft_grid: real-space grid the pointwise model evaluates on (default: the
            smallest one that holds every listed G); ignored by basis/radial models.

    Returns:
        (ngm,) complex128 e/bohr³, with Δρ(G=0) = 0 exactly.
    """
    from rhocat.qe.gvectors import g_cartesian

    cell = np.asarray(cell_bohr, dtype=np.float64)
    g_cart = g_cartesian(cell, miller)
    if isinstance(model, PointwiseModel) and fft_grid is not None:
        import torch

        with torch.no_grad():
            out = model.delta_rho_g_torch(
                torch.as_tensor(np.asarray(numbers)),
                torch.as_tensor(np.asarray(positions_bohr, dtype=np.float64)),
                torch.as_tensor(cell),
                torch.as_tensor(g_cart),
                fft_grid=fft_grid,
            )
        vals = out.numpy().astype(np.complex128)
    else:
        vals = model.delta_rho_g(numbers, positions_bohr, cell, g_cart)
    vals[np.all(np.asarray(miller) == 0, axis=1)] = 0.0
    return vals


def predict_becsum(
    model: DensityModel | BecsumModel,
    numbers: np.ndarray,
    positions_bohr: np.ndarray,
    cell_bohr: np.ndarray,
) -> np.ndarray | None:
    """Predicted PAW on-site occupations (becsum) per atom, or None when the model has none.

    A density model carries its occupation model as ``model.becsum_model`` (fitted by
    :func:`rhocat.train.train_model` when the training data holds PAW occupations; see
    :mod:`rhocat.models.becsum`); a :class:`BecsumModel` may also be passed directly.

    Args:
        model: a trained model.
        numbers: (n_atoms,) atomic numbers.
        positions_bohr: (n_atoms, 3) Cartesian positions, bohr.
        cell_bohr: (3, 3) lattice vectors as rows, bohr.

    Returns:
        (1, n_atoms, nhm(nhm+1)/2) float64 occupations (electrons) in pw.x's packed
        ``rho%bec`` layout, or None (with a warning) when the model has no occupation model
        or none for an element of the structure: the caller must then fall back to atomic
        occupations and say so in every evaluation (with atomic occupations even the exact
        density of GaAs needs 12 SCF iterations against 8 from pw.x's own start).
    """
    occ = model if isinstance(model, BecsumModel) else getattr(model, "becsum_model", None)
    if occ is None:
        warnings.warn(
            f"the {model.kind} model does not predict PAW occupations (becsum); "
            "the caller falls back to atomic occupations",
            stacklevel=2,
        )
        return None
    missing = occ.missing(np.asarray(numbers))
    if missing:
        names = ", ".join(chemical_symbols[z] for z in missing)
        warnings.warn(
            f"no PAW occupation model for {names} (fitted on: "
            f"{', '.join(chemical_symbols[z] for z in occ.fitted_elements()) or 'none'}); "
            "the caller falls back to atomic occupations",
            stacklevel=2,
        )
        return None
    return occ.predict(numbers, positions_bohr, cell_bohr)
