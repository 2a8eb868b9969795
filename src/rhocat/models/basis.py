"""Atom-centred Gaussian-type basis functions and their analytic Fourier transform.

A basis function centred on an atom is

    φ_nlm(r) = N_nl · r^l · exp(−α_n r²) · Y_lm(r̂)

with even-tempered exponents α_n = alpha_min · ratio^n (bohr⁻²), REAL spherical
harmonics Y_lm in e3nn's convention (``e3nn.o3.spherical_harmonics``,
``normalization='integral'``, so ∫ Y_lm Y_l'm' dΩ = δ), and N_nl chosen so that
∫ |φ_nlm|² d³r = 1 (units bohr^-3/2; coefficients then carry e·bohr^-3/2, the
density e/bohr³).

Its Fourier transform (plane-wave expansion of e^{−iG·r}) is

    ∫ φ_nlm(r) e^{−iG·r} d³r = 4π (−i)^l Y_lm(Ĝ) N_nl ∫ r^{l+2} e^{−α r²} j_l(G r) dr
                              = (−i)^l · S_lm(G) · N_nl · 4π √π e^{−G²/4α} / (2^{l+2} α^{l+3/2})

where S_lm(G) = |G|^l Y_lm(Ĝ) is the solid harmonic (a polynomial in G, smooth
at G = 0). The periodic density correction on QE's G vectors
(ρ(r) = Σ_G ρ(G) e^{iG·r}) is

    Δρ(G) = (1/Ω) Σ_a e^{−iG·R_a} Σ_nlm c_{a,nlm} FT[φ_nlm](G),      Δρ(0) := 0

so that charge is conserved exactly. Everything is torch (float64 by default)
and differentiable in the coefficients and the positions.

Coefficient layout matches the e3nn irreps ``n_alpha x 0e + n_alpha x 1o + n_alpha x 2e + ...``:
for each l, n_alpha blocks of 2l+1 components (``[l][n][m]``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from e3nn import o3

#: |G| below this (1/bohr) is treated as G = 0.
G_ZERO_TOL = 1e-8


@dataclass(frozen=True)
class BasisSpec:
    """Even-tempered Gaussian-type basis: α_n = alpha_min · ratio^n (bohr⁻²), l ≤ l_max."""

    l_max: int = 4
    n_alpha: int = 10
    alpha_min: float = 0.25
    ratio: float = 1.8

    def __post_init__(self) -> None:
        if self.l_max < 0 or self.n_alpha < 1 or self.alpha_min <= 0 or self.ratio <= 1:
            raise ValueError(f"invalid basis specification {self}")

    @property
    def alphas(self) -> np.ndarray:
        """(n_alpha,) exponents in bohr⁻²."""
        return self.alpha_min * self.ratio ** np.arange(self.n_alpha, dtype=np.float64)

    @property
    def irreps(self) -> o3.Irreps:
        """Irreps of the per-atom coefficient vector (parity (−1)^l, as Y_lm)."""
        return o3.Irreps(
            [(self.n_alpha, (l, (-1) ** l)) for l in range(self.l_max + 1)]  # noqa: E741
        )

    @property
    def size(self) -> int:
        """Number of coefficients per atom: n_alpha · (l_max + 1)²."""
        return self.n_alpha * (self.l_max + 1) ** 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> BasisSpec:
        return cls(**{k: d[k] for k in ("l_max", "n_alpha", "alpha_min", "ratio") if k in d})


def norm_constants(spec: BasisSpec) -> np.ndarray:
    """(n_alpha, l_max+1) N_nl making ∫|φ|² d³r = 1: N² = 2 (2α)^{l+3/2} / Γ(l+3/2)."""
    a = spec.alphas[:, None]
    l = np.arange(spec.l_max + 1)[None, :]  # noqa: E741
    return np.sqrt(2.0 * (2.0 * a) ** (l + 1.5) / np.vectorize(math.gamma)(l + 1.5))


def radial_ft(spec: BasisSpec, g_norm: torch.Tensor) -> torch.Tensor:
    """(ngm, n_alpha, l_max+1) radial factor of the FT divided by |G|^l.

    R_nl(G) = N_nl 4π √π e^{−G²/4α} / (2^{l+2} α^{l+3/2}); multiply by the solid
    harmonic S_lm(G) = |G|^l Y_lm(Ĝ) and (−i)^l to get FT[φ_nlm](G) (bohr^{3/2}).
    ``g_norm`` in 1/bohr.
    """
    dtype = g_norm.dtype
    a = torch.as_tensor(spec.alphas, dtype=dtype, device=g_norm.device)
    l = torch.arange(spec.l_max + 1, dtype=dtype, device=g_norm.device)  # noqa: E741
    n = torch.as_tensor(norm_constants(spec), dtype=dtype, device=g_norm.device)
    pref = (
        n
        * 4.0
        * math.pi
        * math.sqrt(math.pi)
        / (2.0 ** (l[None, :] + 2) * a[:, None] ** (l[None, :] + 1.5))
    )
    g2 = (g_norm**2)[:, None]
    return torch.exp(-g2 / (4.0 * a[None, :]))[:, :, None] * pref[None]


def solid_harmonics(l_max: int, vec: torch.Tensor) -> torch.Tensor:
    """(n, (l_max+1)²) |v|^l Y_lm(v̂) in e3nn's real convention (integral normalization)."""
    return o3.spherical_harmonics(
        list(range(l_max + 1)), vec, normalize=False, normalization="integral"
    )


def l_of_column(spec: BasisSpec) -> np.ndarray:
    """(size,) the l of each coefficient column."""
    return np.concatenate(
        [np.full(spec.n_alpha * (2 * l + 1), l) for l in range(spec.l_max + 1)]  # noqa: E741
    )


def design_real(spec: BasisSpec, g_cart: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Real design matrix with the (−i)^l sign folded in, and the odd-l column mask.

    Returns ``(a, odd)``: ``a`` (ngm, size) real, ``odd`` (size,) bool. FT[φ_k](G) equals
    ``a[G, k]`` for even l and ``i·a[G, k]`` for odd l. Units bohr^{3/2}.
    """
    g_norm = torch.linalg.norm(g_cart, dim=-1)
    rad = radial_ft(spec, g_norm)  # (ngm, n, L)
    sh = solid_harmonics(spec.l_max, g_cart)  # (ngm, (L)^2)
    cols = []
    for l in range(spec.l_max + 1):  # noqa: E741
        s = sh[:, l * l : (l + 1) * (l + 1)]  # (ngm, 2l+1)
        block = (rad[:, :, l, None] * s[:, None, :]).reshape(len(g_cart), -1)
        # (−i)^l = 1, −i, −1, +i for l mod 4 = 0, 1, 2, 3
        sign = 1.0 if l % 4 in (0, 3) else -1.0
        cols.append(sign * block)
    odd = torch.as_tensor(l_of_column(spec) % 2 == 1, device=g_cart.device)
    return torch.cat(cols, dim=1), odd


def structure_phases(
    g_cart: torch.Tensor, positions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, −sin) of G·R_a: real and imaginary parts of e^{−iG·R_a}, shape (ngm, n_atoms)."""
    arg = g_cart @ positions.T
    return torch.cos(arg), -torch.sin(arg)


def evaluate_g(
    spec: BasisSpec,
    coeffs: torch.Tensor,
    positions_bohr: torch.Tensor,
    g_cart: torch.Tensor,
    volume_bohr3: float,
    chunk: int = 32768,
) -> torch.Tensor:
    """Δρ(G) (e/bohr³, complex, shape (ngm,)) of per-atom coefficients on the given G vectors.

    Args:
        spec: the basis.
        coeffs: (n_atoms, spec.size) coefficients (e3nn irreps layout).
        positions_bohr: (n_atoms, 3) Cartesian positions, bohr.
        g_cart: (ngm, 3) Cartesian G vectors, 1/bohr.
        volume_bohr3: cell volume Ω, bohr³.
        chunk: G vectors processed at a time (bounds memory).

    Δρ(G=0) is set to exactly 0 (charge conservation). Differentiable.
    """
    out_re, out_im = [], []
    for start in range(0, len(g_cart), chunk):
        g = g_cart[start : start + chunk]
        a, odd = design_real(spec, g)
        na = coeffs.shape[0]
        c_split = torch.cat([coeffs * (~odd), coeffs * odd], dim=0)  # (2na, size)
        s_all = a @ c_split.T  # (ng, 2na)
        s_e, s_o = s_all[:, :na], s_all[:, na:]
        c, s = structure_phases(g, positions_bohr)
        re = (c * s_e - s * s_o).sum(dim=1)
        im = (c * s_o + s * s_e).sum(dim=1)
        out_re.append(re)
        out_im.append(im)
    re = torch.cat(out_re) / volume_bohr3
    im = torch.cat(out_im) / volume_bohr3
    zero = torch.linalg.norm(g_cart, dim=-1) < G_ZERO_TOL
    re = torch.where(zero, torch.zeros_like(re), re)
    im = torch.where(zero, torch.zeros_like(im), im)
    return torch.complex(re, im)


def evaluate_real(
    spec: BasisSpec, coeffs: torch.Tensor, positions_bohr: torch.Tensor, points_bohr: torch.Tensor
) -> torch.Tensor:
    """Σ_a Σ_k c_ak φ_k(r − R_a) at the given points (no periodic images, no G=0 removal).

    A reference for tests and plots: (n_points,) e/bohr³.
    """
    alphas = torch.as_tensor(spec.alphas, dtype=points_bohr.dtype)
    n = torch.as_tensor(norm_constants(spec), dtype=points_bohr.dtype)
    total = torch.zeros(len(points_bohr), dtype=points_bohr.dtype)
    for a in range(len(positions_bohr)):
        d = points_bohr - positions_bohr[a]
        r2 = (d * d).sum(-1)
        sh = solid_harmonics(spec.l_max, d)
        gauss = torch.exp(-r2[:, None] * alphas[None, :])  # (P, n)
        k = 0
        for l in range(spec.l_max + 1):  # noqa: E741
            s = sh[:, l * l : (l + 1) * (l + 1)]
            vals = (gauss * n[None, :, l])[:, :, None] * s[:, None, :]  # (P, n, 2l+1)
            c = coeffs[a, k : k + spec.n_alpha * (2 * l + 1)].reshape(spec.n_alpha, 2 * l + 1)
            total = total + (vals * c[None]).sum((1, 2))
            k += spec.n_alpha * (2 * l + 1)
    return total


def per_element_design(
    spec: BasisSpec,
    numbers: np.ndarray,
    elements: list[int],
    positions_bohr: np.ndarray,
    g_cart: np.ndarray,
    volume_bohr3: float,
) -> np.ndarray:
    """(ngm, n_elements·n_alpha) complex design of a radial (l = 0) correction shared per element.

    Column (e, n) is (1/Ω) Σ_{a of element e} e^{−iG·R_a} FT[φ_n00](G); used by the ridge fit.
    Rows with G = 0 are zero.
    """
    g = torch.as_tensor(g_cart, dtype=torch.float64)
    rad = radial_ft(
        BasisSpec(0, spec.n_alpha, spec.alpha_min, spec.ratio), torch.linalg.norm(g, dim=1)
    )
    ft = (rad[:, :, 0] / math.sqrt(4.0 * math.pi)).numpy()  # Y_00 = 1/√(4π)
    phase = np.exp(-1j * (np.asarray(g_cart) @ np.asarray(positions_bohr).T))  # (ngm, na)
    cols = []
    for z in elements:
        mask = np.asarray(numbers) == z
        sf = phase[:, mask].sum(axis=1) if mask.any() else np.zeros(len(g_cart), complex)
        cols.append(sf[:, None] * ft)
    out = np.concatenate(cols, axis=1) / volume_bohr3
    out[np.linalg.norm(g_cart, axis=1) < G_ZERO_TOL] = 0.0
    return out
