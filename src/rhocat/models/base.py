"""What every density model offers: Δρ(G) of a structure, element checks, a config."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import torch
from ase.data import atomic_numbers, chemical_symbols

from rhocat.errors import ModelError


def to_numbers(symbols_or_numbers: Iterable) -> list[int]:
    """Atomic numbers from symbols ('Si') or numbers (14)."""
    out = []
    for s in symbols_or_numbers:
        if isinstance(s, str):
            if s not in atomic_numbers:
                raise ModelError(f"unknown element symbol {s!r}")
            out.append(atomic_numbers[s])
        else:
            out.append(int(s))
    return out


class DensityModel(torch.nn.Module):
    """Base class: a model of Δρ = ρ_SCF − ρ_ACS.

    Subclasses set ``kind`` and implement :meth:`delta_rho_g_torch`. ``config`` is a
    JSON-able dict that rebuilds the model (with ``elements``); ``metadata`` holds what
    the caller attached (pseudopotential family and md5s, protocol, QE version).
    """

    kind: str = "base"

    def __init__(self, config: dict, elements: Iterable[int]):
        super().__init__()
        self.config = dict(config)
        self.elements = sorted({int(z) for z in elements})
        self.metadata: dict = {}

    # ---- checks -------------------------------------------------------------------------
    def check_elements(self, symbols_or_numbers: Iterable, allow_unseen: bool = False) -> None:
        """Raise :class:`ModelError` for elements the model never saw (warn if allowed)."""
        unseen = sorted(set(to_numbers(symbols_or_numbers)) - set(self.elements))
        if not unseen:
            return
        names = ", ".join(chemical_symbols[z] for z in unseen)
        seen = ", ".join(chemical_symbols[z] for z in self.elements) or "none"
        msg = f"the {self.kind} model never saw element(s) {names} (trained on: {seen})"
        if not allow_unseen:
            raise ModelError(msg + "; pass --allow-unseen to predict anyway")
        warnings.warn(msg + "; predicting anyway (--allow-unseen)", stacklevel=2)

    def check_pseudos(self, md5_by_element: dict[str, str], allow_mismatch: bool = False) -> None:
        """Raise :class:`ModelError` when a pseudopotential differs from the training one (md5)."""
        trained = self.metadata.get("pseudo_md5") or {}
        bad = [
            f"{el} (model {trained[el][:8]}, given {md5[:8]})"
            for el, md5 in md5_by_element.items()
            if el in trained and trained[el] != md5
        ]
        if not bad:
            return
        msg = (
            "pseudopotential file(s) differ from the ones the model was trained with: "
            + ", ".join(bad)
        )
        if not allow_mismatch:
            raise ModelError(msg)
        warnings.warn(msg, stacklevel=2)

    # ---- prediction ---------------------------------------------------------------------
    def delta_rho_g_torch(
        self,
        numbers: torch.Tensor,
        positions_bohr: torch.Tensor,
        cell_bohr: torch.Tensor,
        g_cart: torch.Tensor,
    ) -> torch.Tensor:
        """(ngm,) complex Δρ(G) in e/bohr³ (G in 1/bohr); Δρ(0) = 0. Differentiable."""
        raise NotImplementedError

    def delta_rho_g(
        self,
        numbers: np.ndarray,
        positions_bohr: np.ndarray,
        cell_bohr: np.ndarray,
        g_cart: np.ndarray,
    ) -> np.ndarray:
        """(ngm,) complex128 Δρ(G), e/bohr³, on Cartesian G vectors (1/bohr). No gradients."""
        dev = self.device
        with torch.no_grad():
            out = self.delta_rho_g_torch(
                torch.as_tensor(np.asarray(numbers), dtype=torch.long, device=dev),
                torch.as_tensor(np.asarray(positions_bohr), dtype=torch.float64, device=dev),
                torch.as_tensor(np.asarray(cell_bohr), dtype=torch.float64, device=dev),
                torch.as_tensor(np.asarray(g_cart), dtype=torch.float64, device=dev),
            )
        return out.detach().cpu().numpy().astype(np.complex128)

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")
