"""Density models: arrays and tensors in, Δρ(G) = ρ_SCF − ρ_ACS out (no files).

- :mod:`rhocat.models.basis`: atom-centred Gaussian-type x real-spherical-harmonic basis with
  its analytic Fourier transform on QE's G vectors.
- :class:`RadialModel` (``radial``): per-element l = 0 correction, ridge fit (the floor).
- :class:`EquivariantBasisModel` (``basis``, default): e3nn encoder -> basis coefficients.
- :class:`PointwiseModel` (``pointwise``): the paper's probe model, real-space grid.

The caller uses :func:`predict_delta_rho_g` for any kind.
"""

from rhocat.models.base import DensityModel
from rhocat.models.basis import BasisSpec
from rhocat.models.equivariant import EquivariantBasisModel
from rhocat.models.pointwise import PointwiseModel
from rhocat.models.radial import RadialModel
from rhocat.models.registry import MODEL_KINDS, build_model, predict_becsum, predict_delta_rho_g

__all__ = [
    "MODEL_KINDS",
    "BasisSpec",
    "DensityModel",
    "EquivariantBasisModel",
    "PointwiseModel",
    "RadialModel",
    "build_model",
    "predict_becsum",
    "predict_delta_rho_g",
]
