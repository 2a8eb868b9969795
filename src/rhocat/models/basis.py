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
import sys
from dataclasses import asdict, dataclass

import numpy as np
import torch


def _import_e3nn_o3():
    """``e3nn.o3``, imported without loading ``torch._dynamo`` (about 2 s of start-up).

    e3nn 0.6 decorates one helper (``change_basis_real_to_complex``, used only while
    modules are built, never in a forward pass) with ``torch.compiler.disable``, which
    imports torch._dynamo at e3nn's import. rhocat compiles nothing, so during that one
    import the decorator is the identity; torch._dynamo still loads on demand later
    (e.g. when an e3nn module is deep-copied). Skipped when either is already loaded.
    """
    if "e3nn" in sys.modules or "torch._dynamo" in sys.modules:
        from e3nn import o3

        return o3
    import torch.compiler

    real = torch.compiler.disable

    def identity(fn=None, recursive=True, **kwargs):
        return fn if fn is not None else (lambda f: f)

    torch.compiler.disable = identity
    try:
        from e3nn import o3
    finally:
        torch.compiler.disable = real
    return o3


o3 = _import_e3nn_o3()

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


def monopoles(spec: BasisSpec) -> np.ndarray:
    """(n_alpha,) charge ∫φ d³r (e per unit coefficient, bohr^{3/2}) of each l = 0 function.

    ∫φ_n00 d³r = FT[φ_n00](G = 0) = R_n0(0) · Y_00 with Y_00 = 1/√(4π) (integral
    normalization); functions with l > 0 carry no charge.
    """
    a = spec.alphas
    n0 = norm_constants(spec)[:, 0]
    return n0 * 4.0 * math.pi * math.sqrt(math.pi) / (4.0 * a**1.5) / math.sqrt(4.0 * math.pi)


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


def _signed_prefactors(spec: BasisSpec, dtype, device) -> torch.Tensor:
    """(n_alpha, l_max+1) radial prefactors of :func:`radial_ft` with the sign of (−i)^l."""
    pref = radial_ft(spec, torch.zeros(1, dtype=dtype, device=device))[0]  # e^0 = 1
    sign = torch.as_tensor(
        [1.0 if l % 4 in (0, 3) else -1.0 for l in range(spec.l_max + 1)],  # noqa: E741
        dtype=dtype,
        device=device,
    )
    return pref * sign[None, :]


def inversion_partners(g_cart: np.ndarray, cell_bohr: np.ndarray) -> np.ndarray | None:
    """For each G, the index of −G in the same list (−1 when absent), or None.

    G vectors are matched through their Miller indices m = G·a_i/2π (``cell_bohr`` rows
    a_i, bohr; G in 1/bohr); None when some G is not a lattice vector of that cell or a G
    is listed twice. A real density has ρ(−G) = ρ(G)*, so one of each pair suffices.
    """
    g = np.asarray(g_cart, dtype=np.float64).reshape(-1, 3)
    if len(g) == 0:
        return None
    # einsum, not matmul: no BLAS threads for a (ngm, 3) x (3, 3) product
    m = np.einsum("gi,ji->gj", g, np.asarray(cell_bohr, dtype=np.float64)) / (2.0 * math.pi)
    mi = np.rint(m)
    if np.abs(m - mi).max() > 1e-6:
        return None
    mi = mi.astype(np.int64)
    half = np.abs(mi).max(axis=0)
    span = 2 * half + 1
    if int(np.prod(span)) > 64 * len(g) + 1024:  # a sparse list: no dense table
        return None
    key = ((mi[:, 0] + half[0]) * span[1] + (mi[:, 1] + half[1])) * span[2] + (mi[:, 2] + half[2])
    table = np.full(int(np.prod(span)), -1, dtype=np.int64)
    table[key] = np.arange(len(g))
    if np.count_nonzero(table >= 0) != len(g):
        return None  # a G listed twice: no unique partner
    # −m has key (span³ − 1) − key: the table is symmetric under m -> −m
    return table[table.size - 1 - key]


def half_list(partners: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(representatives, where each G reads its value, conjugate mask) from inversion partners."""
    idx = np.arange(len(partners))
    rep = (partners < 0) | (idx <= partners)
    reps = np.flatnonzero(rep)
    slot = np.full(len(partners), -1, dtype=np.int64)
    slot[reps] = np.arange(len(reps))
    source = np.where(rep, slot, slot[np.where(rep, idx, partners)])
    return reps, source, ~rep


def _parity_columns(spec: BasisSpec) -> tuple[np.ndarray, np.ndarray]:
    """Columns (l², ..., (l+1)²−1 of the solid harmonics) of even l and of odd l."""
    lm_l = np.concatenate([np.full(2 * l + 1, l) for l in range(spec.l_max + 1)])  # noqa: E741
    return np.flatnonzero(lm_l % 2 == 0), np.flatnonzero(lm_l % 2 == 1)


def _coefficient_tables(
    spec: BasisSpec, coeffs: torch.Tensor, factor_first: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients × signed radial prefactors, split by the parity of l.

    ``d[a, n, lm] = c[a, (l, n, m)] · (−i)^l-sign · R_nl(0)``; returned for even and odd
    lm columns as (n·n_lm, n_atoms) (design first) or (n, n_atoms·n_lm) (radial first).
    """
    na, n = coeffs.shape[0], spec.n_alpha
    pref = _signed_prefactors(spec, coeffs.dtype, coeffs.device)  # (n, L)
    parts, k = [], 0
    for l in range(spec.l_max + 1):  # noqa: E741
        w = n * (2 * l + 1)
        c = coeffs[:, k : k + w].reshape(na, n, 2 * l + 1)
        parts.append(c * pref[None, :, l, None])
        k += w
    d = torch.cat(parts, dim=2)  # (na, n, (l_max+1)²)
    even, odd = (torch.as_tensor(x, device=coeffs.device) for x in _parity_columns(spec))
    out = []
    for cols in (even, odd):
        sub = d[:, :, cols]  # (na, n, n_lm)
        if factor_first:
            out.append(sub.permute(1, 0, 2).reshape(n, -1))
        else:
            out.append(sub.reshape(na, -1).T)
    return out[0], out[1]


def _evaluate_chunk(
    spec: BasisSpec,
    tables: tuple[torch.Tensor, torch.Tensor],
    factor_first: bool,
    inv4a: torch.Tensor,
    positions: torch.Tensor,
    g: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of Σ_a e^{−iG·R_a} Σ_k c_ak FT[φ_k](G) on a block of G."""
    g2 = (g * g).sum(dim=1)
    gauss = torch.exp(-g2[:, None] * inv4a[None, :])  # (ng, n_alpha)
    sh = solid_harmonics(spec.l_max, g)  # (ng, (l_max+1)²)
    ng, na = len(g), positions.shape[0]
    sums = []
    for table, cols in zip(tables, _parity_columns(spec), strict=True):
        s = sh[:, torch.as_tensor(cols, device=g.device)]  # (ng, n_lm)
        if factor_first:  # radial index first: ng·na·n_lm values
            u = (gauss @ table).reshape(ng, na, len(cols))
            sums.append(torch.einsum("gak,gk->ga", u, s))
        else:  # the design block: ng·n·n_lm values
            design = (gauss[:, :, None] * s[:, None, :]).reshape(ng, -1)
            sums.append(design @ table)
    s_e, s_o = sums  # FT = s_e + i s_o per atom, before the phase
    arg = g @ positions.T
    cos, sin = torch.cos(arg), torch.sin(arg)
    re = (cos * s_e + sin * s_o).sum(dim=1)
    im = (cos * s_o - sin * s_e).sum(dim=1)
    return re, im


def evaluate_g(
    spec: BasisSpec,
    coeffs: torch.Tensor,
    positions_bohr: torch.Tensor,
    g_cart: torch.Tensor,
    volume_bohr3: float,
    chunk: int = 8192,
    partners: np.ndarray | None = None,
) -> torch.Tensor:
    """Δρ(G) (e/bohr³, complex, shape (ngm,)) of per-atom coefficients on the given G vectors.

    Args:
        spec: the basis.
        coeffs: (n_atoms, spec.size) coefficients (e3nn irreps layout).
        positions_bohr: (n_atoms, 3) Cartesian positions, bohr.
        g_cart: (ngm, 3) Cartesian G vectors, 1/bohr.
        volume_bohr3: cell volume Ω, bohr³.
        chunk: G vectors processed at a time (bounds memory).
        partners: optional :func:`inversion_partners` of ``g_cart``: each pair (G, −G) is
            then evaluated once and Δρ(−G) = Δρ(G)* (the density is real): half the work.

    Δρ(G=0) is set to exactly 0 (charge conservation). Differentiable. Equals
    :func:`evaluate_g_reference` to round-off; here the coefficients are folded with the
    radial prefactors once, and per block of G one product per parity of l contracts
    first over whichever of atoms and exponents is smaller.
    """
    dtype, dev = g_cart.dtype, g_cart.device
    if partners is not None:
        reps, source, conj = half_list(np.asarray(partners))
        g_eval = g_cart[torch.as_tensor(reps, device=dev)]
    else:
        g_eval = g_cart
    factor_first = coeffs.shape[0] < spec.n_alpha
    tables = _coefficient_tables(spec, coeffs, factor_first)
    inv4a = torch.as_tensor(1.0 / (4.0 * spec.alphas), dtype=dtype, device=dev)
    out_re, out_im = [], []
    for start in range(0, len(g_eval), chunk):
        re, im = _evaluate_chunk(
            spec, tables, factor_first, inv4a, positions_bohr, g_eval[start : start + chunk]
        )
        out_re.append(re)
        out_im.append(im)
    if out_re:
        re, im = torch.cat(out_re), torch.cat(out_im)
    else:
        re = im = torch.zeros(0, dtype=dtype, device=dev)
    if partners is not None:
        src = torch.as_tensor(source, device=dev)
        sign = torch.as_tensor(np.where(conj, -1.0, 1.0), dtype=dtype, device=dev)
        re, im = re[src], im[src] * sign
    re = re / volume_bohr3
    im = im / volume_bohr3
    zero = torch.linalg.norm(g_cart, dim=-1) < G_ZERO_TOL
    re = torch.where(zero, torch.zeros_like(re), re)
    im = torch.where(zero, torch.zeros_like(im), im)
    return torch.complex(re, im)


def evaluate_g_reference(
    spec: BasisSpec,
    coeffs: torch.Tensor,
    positions_bohr: torch.Tensor,
    g_cart: torch.Tensor,
    volume_bohr3: float,
    chunk: int = 32768,
) -> torch.Tensor:
    """:func:`evaluate_g` the plain way (full design matrix per G): the reference for tests."""
    return evaluate_g_many(spec, coeffs[None], positions_bohr, g_cart, volume_bohr3, chunk)[0]


def evaluate_g_many(
    spec: BasisSpec,
    coeffs: torch.Tensor,
    positions_bohr: torch.Tensor,
    g_cart: torch.Tensor,
    volume_bohr3: float,
    chunk: int = 32768,
) -> torch.Tensor:
    """Δρ_k(G) of K coefficient sets at once, the plain way: (K, ngm) complex, e/bohr³.

    ``coeffs`` is (K, n_atoms, spec.size), e.g. the members of an ensemble. Per block of
    ``chunk`` G vectors the full design matrix is built once and contracted with all K
    sets in one product: for short G lists (an ensemble's uncertainty on its ~500
    shortest G) and as the reference of :func:`evaluate_g` (K = 1), which each row
    equals to round-off. Δρ_k(G=0) = 0.
    """
    k, na, size = coeffs.shape
    flat = coeffs.reshape(k * na, size)
    out_re, out_im = [], []
    for start in range(0, len(g_cart), chunk):
        g = g_cart[start : start + chunk]
        a, odd = design_real(spec, g)  # (ng, size)
        s_e = (a @ (flat * (~odd)).T).reshape(len(g), k, na)
        s_o = (a @ (flat * odd).T).reshape(len(g), k, na)
        c, s = structure_phases(g, positions_bohr)  # (ng, na)
        out_re.append((c[:, None, :] * s_e - s[:, None, :] * s_o).sum(dim=2))
        out_im.append((c[:, None, :] * s_o + s[:, None, :] * s_e).sum(dim=2))
    dtype, dev = g_cart.dtype, g_cart.device
    empty = torch.zeros(0, k, dtype=dtype, device=dev)
    re = (torch.cat(out_re) if out_re else empty).T / volume_bohr3
    im = (torch.cat(out_im) if out_im else empty).T / volume_bohr3
    zero = (torch.linalg.norm(g_cart, dim=-1) < G_ZERO_TOL)[None, :]
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
