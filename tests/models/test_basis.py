"""The analytic G-space evaluation of the basis equals the FFT of its real-space values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import integrate, special

from rhocat.models.basis import BasisSpec, evaluate_g, evaluate_real, norm_constants, radial_ft
from rhocat.qe.gvectors import g_cartesian


def _fft_of_periodic(spec, coeffs, positions, cell, n, images=2):
    frac = np.stack(np.meshgrid(*[np.arange(n) / n] * 3, indexing="ij"), -1).reshape(-1, 3)
    pts = torch.as_tensor(frac @ cell)
    vals = torch.zeros(len(pts), dtype=torch.float64)
    for shift in itertools.product(range(-images, images + 1), repeat=3):
        t = torch.as_tensor(np.array(shift) @ cell)
        vals += evaluate_real(spec, coeffs, torch.as_tensor(positions) + t, pts)
    grid = vals.numpy().reshape(n, n, n)
    return np.fft.fftn(grid) / grid.size


@pytest.mark.slow
def test_g_space_equals_fft_of_real_space_values():
    spec = BasisSpec(l_max=4, n_alpha=3, alpha_min=0.35, ratio=2.0)
    cell = np.array([[0.0, 4.5, 4.5], [4.5, 0.0, 4.5], [4.5, 4.5, 0.0]])  # fcc, non-orthogonal
    positions = np.array([[0.1, 0.2, -0.1], [2.3, 2.0, 2.4]])
    rng = np.random.default_rng(0)
    coeffs = torch.as_tensor(rng.normal(size=(2, spec.size)))
    n = 40
    fft = _fft_of_periodic(spec, coeffs, positions, cell, n)
    miller = np.array(list(itertools.product(range(-6, 7), repeat=3)))
    g_cart = g_cartesian(cell, miller)
    pred = evaluate_g(
        spec, coeffs, torch.as_tensor(positions), torch.as_tensor(g_cart), abs(np.linalg.det(cell))
    )
    ref = fft[tuple((miller % n).T)]
    nonzero = np.any(miller != 0, axis=1)
    assert pred[~nonzero].abs().item() == 0.0
    ref_scale = np.abs(ref[nonzero]).max()
    assert ref_scale > 1e-3
    err = np.abs(pred.numpy()[nonzero] - ref[nonzero]).max()
    assert err < 1e-8 * max(1.0, ref_scale), err


def test_radial_ft_matches_numerical_hankel_transform():
    spec = BasisSpec(l_max=4, n_alpha=2, alpha_min=0.7, ratio=3.0)
    nrm = norm_constants(spec)
    for g in (0.3, 1.7, 4.0):
        rad = radial_ft(spec, torch.tensor([g], dtype=torch.float64))[0].numpy()
        for n, a in enumerate(spec.alphas):
            for l in range(spec.l_max + 1):  # noqa: E741
                val, _ = integrate.quad(
                    lambda r, l=l, a=a, g=g: (
                        r ** (l + 2) * np.exp(-a * r * r) * special.spherical_jn(l, g * r)
                    ),
                    0,
                    30,
                )
                # FT radial part is 4π N ∫ ..., divided by g^l
                assert np.isclose(
                    rad[n, l] * g**l, 4 * np.pi * nrm[n, l] * val, rtol=1e-7, atol=1e-12
                )


def test_basis_functions_are_normalised():
    spec = BasisSpec(l_max=3, n_alpha=2, alpha_min=0.5, ratio=2.0)
    nrm = norm_constants(spec)
    for n, a in enumerate(spec.alphas):
        for l in range(spec.l_max + 1):  # noqa: E741
            val, _ = integrate.quad(
                lambda r, n=n, l=l, a=a: (nrm[n, l] * r**l * np.exp(-a * r * r)) ** 2 * r * r, 0, 40
            )
            assert np.isclose(val, 1.0, rtol=1e-9)
