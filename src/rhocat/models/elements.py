"""Chemistry-aware element representations: standardized element properties as model input.

A free embedding per atomic number (``torch.nn.Embedding(Z)``) learns nothing about an
element from the others; on combinations never seen in training that is what breaks
first. :class:`ElementFeatures` instead feeds eight tabulated properties of each
element (``data/element_properties.json``: Pauling electronegativity, atomic radius (Å),
row, group, first ionization energy (eV), electron affinity (eV), Mendeleev number,
mean ionic radius (Å), from pymatgen) through a small MLP. The properties are
standardized over the table's elements (z-scores; a value pymatgen lacks becomes 0,
the mean, after standardizing), so the input does not depend on the training set.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
from ase.data import chemical_symbols

#: Largest atomic number with a row in the table.
Z_TABLE = 103


@lru_cache(maxsize=1)
def element_property_table() -> tuple[list[str], np.ndarray]:
    """(property names, (Z_TABLE + 1, n_properties) standardized values; row 0 and gaps 0)."""
    text = resources.files("rhocat.models").joinpath("data/element_properties.json").read_text()
    data = json.loads(text)
    names = list(data["properties"])
    raw = np.full((Z_TABLE + 1, len(names)), np.nan)
    for symbol, values in data["elements"].items():
        z = chemical_symbols.index(symbol)
        raw[z] = [np.nan if v is None else float(v) for v in values]
    mean = np.nanmean(raw[1:], axis=0)
    std = np.nanstd(raw[1:], axis=0)
    table = (raw - mean) / np.where(std > 0, std, 1.0)
    table[np.isnan(table)] = 0.0
    table[0] = 0.0
    return names, table


class ElementFeatures(torch.nn.Module):
    """Z -> MLP(standardized element properties): (n_atoms,) long -> (n_atoms, out_dim).

    Args:
        out_dim: width of the output (the encoder's scalar channels).
        hidden: width of the hidden layer.
        z_max: rows of the lookup (atomic numbers above the table give zero properties).
    """

    def __init__(self, out_dim: int, hidden: int = 32, z_max: int = 118):
        super().__init__()
        _, table = element_property_table()
        full = np.zeros((z_max + 1, table.shape[1]))
        full[: min(len(table), z_max + 1)] = table[: z_max + 1]
        self.register_buffer("properties", torch.as_tensor(full, dtype=torch.float64))
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(table.shape[1], hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(hidden, out_dim),
        )

    def forward(self, numbers: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.properties[numbers])
