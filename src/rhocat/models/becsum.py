"""PAW on-site occupations ("becsum") predicted from an atom's environment.

A PAW warm start needs the projector occupations ρ_ij = Σ_n f_n ⟨ψ_n|β_i⟩⟨β_j|ψ_n⟩ of
every PAW atom as well as the density. Measured on GaAs zincblende (PAW, "fast" settings,
45 Ry): pw.x's own start takes 8 SCF iterations, the exact converged density with atomic
occupations 12, with the converged occupations 1. This model predicts them.

Per PAW element and per pair of projector channels (nb1 ≤ nb2, angular momenta l1, l2),
the (2l1+1)×(2l2+1) block of ρ is

    ρ_block = ρ_atomic_block
              + δ_{l1 l2} · I · Σ_{s,k} a_{s,k} F_{s,k}
              + Σ_{s,k} b_{s,k} Σ_{j: Z_j = s} g_k(r_j) Y_{l1}(r̂_j) Y_{l2}(r̂_j)ᵀ

with F_{s,k} = Σ_{j: Z_j = s} g_k(r_j) over the neighbours j of element s (periodic
images included), g_k(r) = exp(−(r − r_k)²/2σ²)·f_cut(r) a few Gaussian shells within the
cutoff (f_cut = ½(1 + cos πr/r_c)), and Y_l the real spherical harmonics in Quantum
ESPRESSO's convention (``ylmr2``: for each l, m = 0, then cos(mφ), sin(mφ) pairs, with the
Condon-Shortley phase), which is the order of QE's projectors (``nhtolm``). The first term
(isotropic blocks, the part a per-atom scalar can carry) is rotation invariant; the second
rotates like the projectors (ρ → D^{l1}(R) ρ D^{l2}(R)ᵀ), so the whole prediction is
equivariant by construction, and invariant under translations and atom permutations.
Zero features (no neighbours) give the atomic occupations.

The coefficients a, b are fitted per (element, nb1, nb2) by ridge regression in closed
form (seconds) on the converged occupations of training structures (never at prediction).

Units: positions and cells in bohr (the cutoff and shells are configured in Å);
occupations are dimensionless (electrons). Layout of the packed array: QE's ``rho%bec``
(see :mod:`rhocat.qe.paw`): per atom, the upper triangle (i ≤ j, row by row) of the
species' nh × nh matrix, off-diagonal entries counted twice, zero-padded to
nhm(nhm+1)/2 with nhm the largest nh of the structure's species.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rhocat.errors import ModelError
from rhocat.models.graph import atom_graph
from rhocat.units import BOHR_PER_ANGSTROM

#: Default settings of the occupation model (lengths in Å).
DEFAULT_CONFIG: dict = {
    "cutoff_ang": 5.0,
    "r_min_ang": 1.6,
    "n_shells": 8,
    "sigma_ang": 0.45,
    "ridge_lambda": 1e-3,
    "anisotropic": True,
    "shared_channel": True,
}

__all__ = [
    "DEFAULT_CONFIG",
    "BecsumModel",
    "SpeciesLayout",
    "fit_becsum_model",
    "packed_to_matrix",
    "matrix_to_packed",
    "qe_real_ylm",
]


@dataclass(frozen=True)
class SpeciesLayout:
    """Projectors of one species, as pw.x orders them.

    Attributes:
        beta_l: angular momentum of each projector channel (UPF order).
        atomic_occupations: (nbeta,) atomic occupation of each channel (PAW), or None
            for a species without PAW occupations (US, NC).
    """

    beta_l: tuple[int, ...]
    atomic_occupations: tuple[float, ...] | None = None

    @property
    def nh(self) -> int:
        """Projectors counting m: Σ (2l+1)."""
        return int(sum(2 * lb + 1 for lb in self.beta_l))

    @property
    def is_paw(self) -> bool:
        return self.atomic_occupations is not None

    def offsets(self) -> list[int]:
        """First projector index (counting m) of each channel."""
        out, k = [], 0
        for lb in self.beta_l:
            out.append(k)
            k += 2 * lb + 1
        return out

    def atomic_matrix(self) -> np.ndarray:
        """(nh, nh) atomic occupations: occ_nb/(2l+1) on the diagonal (QE's PAW_atomic_becsum)."""
        d = []
        for lb, occ in zip(
            self.beta_l, self.atomic_occupations or [0.0] * len(self.beta_l), strict=True
        ):
            d += [float(occ) / (2 * lb + 1)] * (2 * lb + 1)
        return np.diag(np.asarray(d, dtype=np.float64))

    def to_json(self) -> dict:
        return {
            "beta_l": list(self.beta_l),
            "atomic_occupations": None
            if self.atomic_occupations is None
            else [float(x) for x in self.atomic_occupations],
        }

    @classmethod
    def from_json(cls, d: Mapping) -> SpeciesLayout:
        occ = d.get("atomic_occupations")
        return cls(tuple(int(x) for x in d["beta_l"]), None if occ is None else tuple(occ))


# -- packed layout ------------------------------------------------------------------------
def packed_to_matrix(packed: np.ndarray, nh: int) -> np.ndarray:
    """(nh, nh) symmetric ρ_ij of one atom from its packed becsum row (off-diagonals halved)."""
    iu = np.triu_indices(nh)
    m = np.zeros((nh, nh))
    m[iu] = np.asarray(packed, dtype=np.float64)[: len(iu[0])]
    off = np.triu(m, 1)
    return np.diag(np.diag(m)) + (off + off.T) / 2.0


def matrix_to_packed(matrix: np.ndarray, nij: int) -> np.ndarray:
    """Packed becsum row (length ``nij``) of a symmetric (nh, nh) ρ_ij (off-diagonals doubled)."""
    nh = matrix.shape[0]
    iu = np.triu_indices(nh)
    row = np.zeros(nij)
    vals = matrix[iu] * np.where(iu[0] == iu[1], 1.0, 2.0)
    if len(vals) > nij:
        raise ValueError(f"{nh} projectors do not fit a packed row of {nij}")
    row[: len(vals)] = vals
    return row


# -- real spherical harmonics in QE's convention -------------------------------------------
def qe_real_ylm(vectors: np.ndarray, lmax: int) -> np.ndarray:
    """Real spherical harmonics of the directions of ``vectors``, QE's ``ylmr2`` order.

    Returns (n, (lmax+1)²): for each l, index l² is m = 0, then l² + 2m − 1 ∝ cos(mφ) and
    l² + 2m ∝ sin(mφ) (m = 1..l), normalized to 1 on the unit sphere, with the
    Condon-Shortley phase (l = 1 is (z, −x, −y)·√(3/4π)).
    """
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, 3)
    r = np.linalg.norm(v, axis=1)
    safe = np.where(r > 1e-12, r, 1.0)
    cost = np.where(r > 1e-12, v[:, 2] / safe, 0.0)
    sent = np.sqrt(np.clip(1.0 - cost**2, 0.0, None))
    phi = np.arctan2(v[:, 1], v[:, 0])
    q = {(0, 0): np.ones_like(cost)}
    if lmax >= 1:
        q[(1, 0)] = cost
        q[(1, 1)] = -sent / math.sqrt(2.0)
    for ell in range(2, lmax + 1):
        for m in range(ell - 1):
            q[(ell, m)] = (
                cost * (2 * ell - 1) * q[(ell - 1, m)]
                - math.sqrt((ell - 1) ** 2 - m**2) * q[(ell - 2, m)]
            ) / math.sqrt(ell**2 - m**2)
        q[(ell, ell - 1)] = cost * math.sqrt(2 * ell - 1) * q[(ell - 1, ell - 1)]
        q[(ell, ell)] = -math.sqrt(2 * ell - 1) / math.sqrt(2 * ell) * sent * q[(ell - 1, ell - 1)]
    out = np.zeros((len(v), (lmax + 1) ** 2))
    for ell in range(lmax + 1):
        c = math.sqrt((2 * ell + 1) / (4.0 * math.pi))
        out[:, ell * ell] = c * q[(ell, 0)]
        for m in range(1, ell + 1):
            out[:, ell * ell + 2 * m - 1] = c * math.sqrt(2.0) * q[(ell, m)] * np.cos(m * phi)
            out[:, ell * ell + 2 * m] = c * math.sqrt(2.0) * q[(ell, m)] * np.sin(m * phi)
    return out


# -- the model ---------------------------------------------------------------------------
class BecsumModel:
    """Per-element linear model of PAW occupations (see the module docstring).

    Args:
        layouts: atomic number -> :class:`SpeciesLayout` of every element the model may
            meet (PAW or not: non-PAW species set nhm and act as neighbours).
        config: settings (:data:`DEFAULT_CONFIG` keys; lengths in Å).
        coefficients: (Z, nb1, nb2) -> (n_columns,) fitted coefficients; an element
            without any is not predicted (see :meth:`fitted_elements`).
    """

    def __init__(
        self,
        layouts: Mapping[int, SpeciesLayout],
        config: Mapping | None = None,
        coefficients: Mapping[tuple[int, int, int], np.ndarray] | None = None,
    ):
        self.layouts = {int(z): lay for z, lay in layouts.items()}
        self.config = {**DEFAULT_CONFIG, **dict(config or {})}
        self.neighbours = sorted(self.layouts)  # species channels of the features
        self.coefficients = {
            k: np.asarray(v, dtype=np.float64) for k, v in (coefficients or {}).items()
        }
        self.metrics: dict = {}

    # ---- features -----------------------------------------------------------------------
    @property
    def _shells_bohr(self) -> tuple[np.ndarray, float, float]:
        c = self.config
        rc = float(c["cutoff_ang"]) * BOHR_PER_ANGSTROM
        centres = np.linspace(float(c["r_min_ang"]), float(c["cutoff_ang"]), int(c["n_shells"]))
        return centres * BOHR_PER_ANGSTROM, float(c["sigma_ang"]) * BOHR_PER_ANGSTROM, rc

    def _lmax(self) -> int:
        return max((max(lay.beta_l, default=0) for lay in self.layouts.values()), default=0)

    def environment(self, numbers: np.ndarray, positions_bohr: np.ndarray, cell_bohr: np.ndarray):
        """Per edge: (centre i, species channel s (−1: unknown), shells g (E, K), Y (E, L²))."""
        centres, sigma, rc = self._shells_bohr
        i, j, vec = atom_graph(positions_bohr, cell_bohr, rc)
        r = np.linalg.norm(vec, axis=1)
        fcut = 0.5 * (1.0 + np.cos(np.pi * np.clip(r / rc, 0.0, 1.0)))
        g = np.exp(-((r[:, None] - centres[None, :]) ** 2) / (2 * sigma**2)) * fcut[:, None]
        index = {z: k for k, z in enumerate(self.neighbours)}
        numbers = np.asarray(numbers)
        s = np.array([index.get(int(z), -1) for z in numbers[j]], dtype=int)
        return i, s, g, qe_real_ylm(vec, self._lmax())

    def _columns(self, env, atom: int, l1: int, l2: int) -> np.ndarray:
        """(2l1+1, 2l2+1, n_columns) features of one atom for a block of angular momenta."""
        i, s, g, y = env
        n_s, n_k = len(self.neighbours), g.shape[1]
        sel = (i == atom) & (s >= 0)
        gs, ss, ys = g[sel], s[sel], y[sel]
        if self.config["shared_channel"]:  # every neighbour, whatever its element
            every = i == atom
            gs = np.concatenate([gs, g[every]])
            ys = np.concatenate([ys, y[every]])
            ss = np.concatenate([ss, np.full(int(every.sum()), n_s)])
            n_s += 1
        cols = []
        if l1 == l2:
            f = np.zeros((n_s, n_k))
            np.add.at(f, ss, gs)
            cols.append(np.eye(2 * l1 + 1)[:, :, None] * f.reshape(1, 1, -1))
        if self.config["anisotropic"] and (l1, l2) != (0, 0):
            y1 = ys[:, l1 * l1 : (l1 + 1) ** 2]
            y2 = ys[:, l2 * l2 : (l2 + 1) ** 2]
            a = np.zeros((n_s, n_k, 2 * l1 + 1, 2 * l2 + 1))
            np.add.at(a, ss, np.einsum("ek,em,en->ekmn", gs, y1, y2))
            cols.append(a.reshape(n_s * n_k, 2 * l1 + 1, 2 * l2 + 1).transpose(1, 2, 0))
        if not cols:
            return np.zeros((2 * l1 + 1, 2 * l2 + 1, 0))
        return np.concatenate(cols, axis=2)

    # ---- prediction ---------------------------------------------------------------------
    def fitted_elements(self) -> list[int]:
        """Atomic numbers of the PAW elements with fitted occupations."""
        return sorted({z for (z, _, _) in self.coefficients})

    def missing(self, numbers: Iterable[int]) -> list[int]:
        """Elements of a structure this model cannot handle (unknown layout or PAW unfitted)."""
        out = set()
        for z in {int(z) for z in numbers}:
            lay = self.layouts.get(z)
            if lay is None or (lay.is_paw and z not in self.fitted_elements()):
                out.add(z)
        return sorted(out)

    def predict_matrices(
        self, numbers: np.ndarray, positions_bohr: np.ndarray, cell_bohr: np.ndarray
    ) -> list[np.ndarray | None]:
        """Per atom, the (nh, nh) symmetric ρ_ij (None for non-PAW atoms)."""
        numbers = np.asarray(numbers)
        bad = self.missing(numbers)
        if bad:
            raise ModelError(f"no PAW occupation model for element(s) Z = {bad}")
        env = self.environment(numbers, positions_bohr, cell_bohr)
        out: list[np.ndarray | None] = []
        for a, z in enumerate(numbers):
            lay = self.layouts[int(z)]
            if not lay.is_paw:
                out.append(None)
                continue
            mat = lay.atomic_matrix()
            off = lay.offsets()
            for n1, l1 in enumerate(lay.beta_l):
                for n2 in range(n1, len(lay.beta_l)):
                    l2 = lay.beta_l[n2]
                    coef = self.coefficients.get((int(z), n1, n2))
                    if coef is None or coef.size == 0:
                        continue
                    block = self._columns(env, a, l1, l2) @ coef
                    sl1 = slice(off[n1], off[n1] + 2 * l1 + 1)
                    sl2 = slice(off[n2], off[n2] + 2 * l2 + 1)
                    if n1 == n2:
                        block = 0.5 * (block + block.T)
                        mat[sl1, sl1] += block
                    else:
                        mat[sl1, sl2] += block
                        mat[sl2, sl1] += block.T
            out.append(mat)
        return out

    def predict(
        self, numbers: np.ndarray, positions_bohr: np.ndarray, cell_bohr: np.ndarray
    ) -> np.ndarray:
        """(1, nat, nhm(nhm+1)/2) packed occupations in pw.x's ``rho%bec`` layout (nspin 1)."""
        numbers = np.asarray(numbers)
        mats = self.predict_matrices(numbers, positions_bohr, cell_bohr)
        nhm = max(self.layouts[int(z)].nh for z in numbers)
        nij = nhm * (nhm + 1) // 2
        values = np.zeros((1, len(numbers), nij))
        for a, m in enumerate(mats):
            if m is not None:
                values[0, a] = matrix_to_packed(m, nij)
        return values

    # ---- storage ------------------------------------------------------------------------
    def to_state(self) -> dict:
        """Checkpoint content: JSON strings and tensors only (loads with weights_only=True)."""
        keys = sorted(self.coefficients)
        return {
            "config": json.dumps(self.config),
            "layouts": json.dumps({str(z): lay.to_json() for z, lay in self.layouts.items()}),
            "keys": json.dumps([list(k) for k in keys]),
            "coefficients": [torch.as_tensor(self.coefficients[k]) for k in keys],
            "metrics": json.dumps(self.metrics),
        }

    @classmethod
    def from_state(cls, state: Mapping) -> BecsumModel:
        """Rebuild from :meth:`to_state` output (:class:`ModelError` if it does not fit)."""
        try:
            layouts = {
                int(z): SpeciesLayout.from_json(d) for z, d in json.loads(state["layouts"]).items()
            }
            keys = [tuple(int(x) for x in k) for k in json.loads(state["keys"])]
            coefs = [
                np.asarray(t.detach().cpu().numpy(), dtype=np.float64)
                for t in state["coefficients"]
            ]
            if len(keys) != len(coefs):
                raise ValueError("keys and coefficients differ in number")
            model = cls(layouts, json.loads(state["config"]), dict(zip(keys, coefs, strict=True)))
            model.metrics = json.loads(state.get("metrics", "{}"))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ModelError(f"the checkpoint's PAW occupation model is unusable: {exc}") from exc
        return model


# -- fitting -----------------------------------------------------------------------------
def fit_becsum_model(
    structures: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    layouts: Mapping[int, SpeciesLayout],
    config: Mapping | None = None,
) -> BecsumModel:
    """Ridge fit of the occupation model on converged occupations.

    Args:
        structures: (numbers (nat,), positions_bohr (nat, 3), cell_bohr (3, 3),
            becsum (nat, nij) packed converged occupations, spin summed).
        layouts: atomic number -> :class:`SpeciesLayout` for every element present.
        config: overrides of :data:`DEFAULT_CONFIG`; ``ridge_lambda`` is relative to the
            mean diagonal of each normal matrix.

    Returns:
        A model with coefficients for every PAW element present in ``structures``.
    """
    model = BecsumModel(layouts, config)
    rows: dict[tuple[int, int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
    for numbers, pos, cell, bec in structures:
        numbers = np.asarray(numbers)
        bec = np.asarray(bec, dtype=np.float64)
        if bec.shape[0] != len(numbers):
            raise ModelError(f"occupations for {bec.shape[0]} atoms, structure has {len(numbers)}")
        for z in {int(z) for z in numbers} - set(model.layouts):
            raise ModelError(f"no projector layout for element Z = {z}")
        env = model.environment(numbers, pos, cell)
        for a, z in enumerate(numbers):
            lay = model.layouts[int(z)]
            if not lay.is_paw:
                continue
            target = packed_to_matrix(bec[a], lay.nh) - lay.atomic_matrix()
            off = lay.offsets()
            for n1, l1 in enumerate(lay.beta_l):
                for n2 in range(n1, len(lay.beta_l)):
                    l2 = lay.beta_l[n2]
                    x = model._columns(env, a, l1, l2)
                    if x.shape[2] == 0:
                        continue
                    t = target[off[n1] : off[n1] + 2 * l1 + 1, off[n2] : off[n2] + 2 * l2 + 1]
                    rows.setdefault((int(z), n1, n2), []).append(
                        (x.reshape(-1, x.shape[2]), t.reshape(-1))
                    )
    lam = float(model.config["ridge_lambda"])
    for key, parts in rows.items():
        x = np.concatenate([p[0] for p in parts])
        t = np.concatenate([p[1] for p in parts])
        mat = x.T @ x
        diag = np.diag(mat)
        scale = diag[diag > 0].mean() if np.any(diag > 0) else 1.0
        model.coefficients[key] = np.linalg.solve(mat + lam * scale * np.eye(len(mat)), x.T @ t)
    return model
