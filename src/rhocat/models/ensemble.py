"""An ensemble of basis models: its mean as the prediction, its disagreement as the uncertainty.

K basis models trained from different seeds disagree most on structures unlike their
training set, and the mean of their predictions generalizes better than any of them.
Δρ is linear in the basis coefficients, so the ensemble's mean Δρ costs K encoder passes
and *one* basis evaluation: inference stays in milliseconds.

Uncertainty. On the ``uncertainty_g`` shortest G vectors (G ≠ 0, where the Hartree
weight 1/G² puts most of the SCF's sensitivity) each member's Δρ_k is evaluated and

    u² = mean_k Σ_G |Δρ_k(G) − Δρ̄(G)|² / G²  /  Σ_G |Δρ̄(G)|² / G²,

the members' spread relative to the mean's size, in the Hartree metric (dimensionless).

Shrinkage. If the mean were the truth plus an error of relative Hartree size √c·u, the
scale s minimizing the expected Hartree error of s·Δρ̄ would be s = 1 / (1 + c u²). The
prediction is s·Δρ̄: a confident ensemble keeps its Δρ̄, a confused one falls back toward
the ACS (s → 0). ``shrink_c`` is calibrated on validation structures
(:func:`calibrate_shrinkage`); ``shrink_c = 0`` turns shrinkage off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rhocat.errors import ModelError
from rhocat.models.base import DensityModel
from rhocat.models.basis import evaluate_g, evaluate_g_many, inversion_partners
from rhocat.models.equivariant import SMALL_EVALUATION, EquivariantBasisModel, _one_thread

#: Number of shortest non-zero G vectors on which the members' spread is measured.
UNCERTAINTY_G = 500
#: Candidate values of ``shrink_c`` tried by :func:`calibrate_shrinkage`.
SHRINK_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass
class EnsemblePrediction:
    """Δρ(G) (e/bohr³) after shrinkage, with the uncertainty that set it.

    Attributes:
        delta_rho_g: (ngm,) complex, s·Δρ̄.
        uncertainty: u, the members' relative Hartree spread (dimensionless).
        shrink: s = 1 / (1 + c u²) applied to the mean.
        members: K.
    """

    delta_rho_g: np.ndarray
    uncertainty: float
    shrink: float
    members: int

    def info(self) -> dict:
        return {"uncertainty": self.uncertainty, "shrink": self.shrink, "members": self.members}


class _Coefficients(torch.nn.Module):
    """A member seen as a module whose forward gives its coefficients (for ``vmap``)."""

    def __init__(self, member: EquivariantBasisModel):
        super().__init__()
        self.member = member

    def forward(self, numbers, graph):
        return self.member.coefficients(numbers, graph)


class EnsembleModel(DensityModel):
    """K :class:`EquivariantBasisModel` members with one basis; see the module docstring.

    Config keys: ``member_config`` (the members' model config; all share its basis),
    ``n_members`` (K), ``shrink_c`` (c of the shrinkage, default 1), ``uncertainty_g``.
    """

    kind = "ensemble"

    def __init__(self, config: dict, elements: Iterable[int]):
        super().__init__(config, elements)
        c = self.config
        if "member_config" not in c or int(c.get("n_members", 0)) < 1:
            raise ModelError("an ensemble config needs member_config and n_members >= 1")
        c.setdefault("shrink_c", 1.0)
        c.setdefault("uncertainty_g", UNCERTAINTY_G)
        self.members = torch.nn.ModuleList(
            EquivariantBasisModel(dict(c["member_config"]), self.elements)
            for _ in range(int(c["n_members"]))
        )
        self.spec = self.members[0].spec
        c["member_config"] = self.members[0].config

    @classmethod
    def from_members(cls, members: Sequence[EquivariantBasisModel], shrink_c: float = 1.0):
        """An ensemble holding copies of trained members (same basis, same elements)."""
        if not members:
            raise ModelError("an ensemble needs at least one member")
        first = members[0]
        for m in members[1:]:
            if m.spec != first.spec or m.elements != first.elements:
                raise ModelError("ensemble members must share their basis and elements")
            if m.config != first.config:  # e.g. avg_neighbours, set from the training data
                diff = sorted(k for k in {*m.config, *first.config}
                              if m.config.get(k) != first.config.get(k))  # fmt: skip
                raise ModelError(
                    "ensemble members must share their configuration; these differ: "
                    + ", ".join(diff)
                )
        config = {"member_config": first.config, "n_members": len(members), "shrink_c": shrink_c}
        ens = cls(config, first.elements)
        for mine, theirs in zip(ens.members, members, strict=True):
            mine.load_state_dict(theirs.state_dict())
        return _with_card_of(ens, first)

    def member(self, k: int) -> EquivariantBasisModel:
        """A standalone copy of member ``k`` (its weights, the ensemble's metadata and PAW
        occupation model): what :func:`rhocat.train.train_ensemble` fine-tunes from."""
        if not 0 <= k < len(self.members):
            raise ModelError(f"the ensemble has {len(self.members)} members, no member {k}")
        one = EquivariantBasisModel(dict(self.config["member_config"]), self.elements)
        one.load_state_dict(self.members[k].state_dict())
        return _with_card_of(one, self)

    # ---------------------------------------------------------------------------------------
    def member_coefficients(self, numbers: torch.Tensor, positions_bohr, cell_bohr):
        """(K, n_atoms, spec.size) coefficients of every member (one shared atom graph).

        Without gradients the K encoders run as one batched call (``torch.func.vmap``
        over the members' stacked weights): 2-3x faster than K calls on tiny graphs.
        """
        graph = self.members[0].graph(np.asarray(positions_bohr), np.asarray(cell_bohr))
        if torch.is_grad_enabled() or len(self.members) == 1:
            return torch.stack([m.coefficients(numbers, graph) for m in self.members])
        from torch.func import functional_call, vmap

        state = self._stacked_state()
        shell = _Coefficients(self.members[0])

        def one(member_state):
            named = {f"member.{k}": v for k, v in member_state.items()}
            return functional_call(shell, named, (numbers, graph))

        return vmap(one)(state)

    def _stacked_state(self) -> dict:
        """The members' weights stacked along a new first axis (for ``vmap``), cached.

        Stacking copies every weight (about 15 ms for 5 small members); the copy is kept
        while the members are the same modules and no weight changed: in place (a tensor's
        version moves with an optimizer step or ``load_state_dict``) or in its storage
        (``.double()``, ``.to()``). A new tensor assigned to a weight attribute is not
        seen: replace the member instead.
        """
        members = list(self.members)  # held by the cache, so never a recycled object
        cached = getattr(self, "_stack_cache", None)
        if cached is not None:
            old_members, tensors, versions, state = cached
            same_members = len(old_members) == len(members) and all(
                a is b for a, b in zip(old_members, members, strict=True)
            )
            if same_members and versions == [(t._version, t.data_ptr()) for t in tensors]:
                return state
        from torch.func import stack_module_state

        tensors = [t for m in members for t in (*m.parameters(), *m.buffers())]
        params, buffers = stack_module_state(members)
        state = {**params, **buffers}
        versions = [(t._version, t.data_ptr()) for t in tensors]
        self._stack_cache = (members, tensors, versions, state)
        return state

    def delta_rho_g_torch(self, numbers, positions_bohr, cell_bohr, g_cart):
        """The members' mean Δρ(G) (no shrinkage), differentiable, e/bohr³."""
        coeffs = self.member_coefficients(
            numbers, positions_bohr.detach().cpu().numpy(), cell_bohr.detach().cpu().numpy()
        ).mean(dim=0)
        volume = torch.abs(torch.linalg.det(cell_bohr))
        return evaluate_g(self.spec, coeffs, positions_bohr, g_cart, volume, partners=None)

    def predict(
        self, numbers, positions_bohr, cell_bohr, g_cart, shrink_c: float | None = None
    ) -> EnsemblePrediction:
        """Shrunk mean Δρ(G) on Cartesian G vectors (1/bohr), with its uncertainty. No grads.
        ``shrink_c``: the c of the shrinkage for this call (default: the config's; 0: none)."""
        pos = np.asarray(positions_bohr, dtype=np.float64)
        cell = np.asarray(cell_bohr, dtype=np.float64)
        g = np.asarray(g_cart, dtype=np.float64)
        volume = abs(float(np.linalg.det(cell)))
        partners = inversion_partners(g, cell)
        n_eval = len(g) if partners is None else (len(g) + 1) // 2
        small = n_eval * len(pos) * self.spec.size < SMALL_EVALUATION
        with torch.inference_mode():
            z = torch.as_tensor(np.asarray(numbers), dtype=torch.long)
            with _one_thread():
                coeffs = self.member_coefficients(z, pos, cell)
                u = self._uncertainty(coeffs, pos, g, volume)
            c = self.config["shrink_c"] if shrink_c is None else shrink_c
            s = shrink_factor(float(c), u)
            with _one_thread() if small else contextlib.nullcontext():
                mean = evaluate_g(
                    self.spec,
                    coeffs.mean(dim=0) * s,
                    torch.as_tensor(pos),
                    torch.as_tensor(g),
                    volume,
                    partners=partners,
                )
        out = mean.cpu().numpy().astype(np.complex128, copy=False)
        return EnsemblePrediction(out, float(u), float(s), len(self.members))

    def _uncertainty(self, coeffs: torch.Tensor, pos: np.ndarray, g: np.ndarray, volume: float):
        g2 = np.einsum("ij,ij->i", g, g)
        order = np.argsort(g2, kind="stable")
        low = order[g2[order] > 1e-12][: int(self.config["uncertainty_g"])]
        if len(low) == 0 or len(self.members) < 2:
            return 0.0
        g_low = torch.as_tensor(g[low])
        per_member = evaluate_g_many(self.spec, coeffs, torch.as_tensor(pos), g_low, volume)
        weight = torch.as_tensor(1.0 / g2[low])
        mean = per_member.mean(dim=0)
        size = float((weight * mean.abs() ** 2).sum())
        spread = float((weight * (per_member - mean).abs() ** 2).sum(dim=1).mean())
        if size <= 0.0:
            return 0.0 if spread <= 0.0 else float("inf")
        return float(np.sqrt(spread / size))

    def delta_rho_g(self, numbers, positions_bohr, cell_bohr, g_cart) -> np.ndarray:
        """(ngm,) complex128 shrunk mean Δρ(G), e/bohr³ (see :meth:`predict`)."""
        return self.predict(numbers, positions_bohr, cell_bohr, g_cart).delta_rho_g


def _with_card_of(model: DensityModel, source: DensityModel) -> DensityModel:
    """``model`` with a copy of ``source``'s metadata and its PAW occupation model (if
    any), in eval mode."""
    model.metadata = dict(source.metadata)
    occ = getattr(source, "becsum_model", None)
    if occ is not None:
        model.becsum_model = occ
    model.eval()
    return model


def unshrunk_mean(model: EnsembleModel, sample) -> tuple[np.ndarray, float]:
    """The members' mean Δρ̄(G) (e/bohr³) on the sample's G list, without shrinkage and with
    G = 0 set to 0, and its uncertainty u."""
    pred = model.predict(
        sample.numbers, sample.positions_bohr, sample.cell_bohr, np.asarray(sample.g_cart), 0.0
    )
    mean = pred.delta_rho_g.copy()
    mean[np.all(np.asarray(sample.miller) == 0, axis=1)] = 0.0
    return mean, pred.uncertainty


def shrinkage_stats(model: EnsembleModel, samples: Sequence) -> np.ndarray:
    """(n, 4) per sample: A = E_H(Δρ̄), B = ⟨Δρ̄, Δρ⟩_H, C = E_H(Δρ) (Ry) and u, with Δρ̄ the
    unshrunk mean; the Hartree error of s·Δρ̄ is then s²A − 2sB + C (G = 0 left out)."""
    from rhocat.train.metrics import hartree_energy_ry

    stats = []
    for smp in samples:
        g, vol = np.asarray(smp.g_cart), smp.volume_bohr3
        p, u = unshrunk_mean(model, smp)
        t = np.asarray(smp.delta_rho_g)
        a = hartree_energy_ry(p, g, vol)
        c = hartree_energy_ry(t, g, vol)
        b = 0.5 * (a + c - hartree_energy_ry(p - t, g, vol))
        stats.append((a, b, c, u))
    return np.asarray(stats, dtype=float).reshape(-1, 4)


def shrink_factor(c, u):
    """s = 1 / (1 + c u²), the share of the members' mean Δρ̄ kept at uncertainty ``u``
    (dimensionless; floats or arrays)."""
    return 1.0 / (1.0 + c * u * u)


def captured_after_shrink(stats: np.ndarray, shrink: np.ndarray) -> np.ndarray:
    """Captured share (%) of each sample's Δρ Hartree norm by s·Δρ̄, from
    :func:`shrinkage_stats` and the per-sample scales ``shrink`` (0 where E_H(Δρ) = 0)."""
    a, b, c = stats[:, 0], stats[:, 1], stats[:, 2]
    s = np.asarray(shrink, dtype=float)
    err = s * s * a - 2 * s * b + c
    safe = np.where(c > 0, c, 1.0)
    return np.where(c > 0, 100.0 * (1.0 - err / safe), 0.0)


def calibrate_shrinkage(
    model: EnsembleModel, samples: Sequence, grid: Sequence[float] = SHRINK_GRID
) -> tuple[float, dict[float, float]]:
    """The ``shrink_c`` of ``grid`` that maximizes the mean Hartree share captured on ``samples``.

    For each sample the unshrunk mean Δρ̄ and u are computed once
    (:func:`shrinkage_stats`); for each c the captured share of s(c)·Δρ̄ follows in closed
    form. Returns (best c, {c: mean captured %}). Use validation samples, never test ones.
    """
    if not samples:
        raise ModelError("calibrating the shrinkage needs validation samples")
    return choose_shrink_c(shrinkage_stats(model, samples), grid)


def choose_shrink_c(
    stats: np.ndarray, grid: Sequence[float] = SHRINK_GRID
) -> tuple[float, dict[float, float]]:
    """The c of ``grid`` whose s = 1 / (1 + c u²) gives the largest mean captured share
    (%) over the rows of :func:`shrinkage_stats` (ties: the smaller c), and {c: mean}."""
    u = stats[:, 3]
    scores = {
        float(cval): float(np.mean(captured_after_shrink(stats, shrink_factor(cval, u))))
        for cval in grid
    }
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, scores
