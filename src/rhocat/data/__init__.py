"""The density dataset on disk: one HDF5 file per structure plus an index.

``Dataset(path).ids(split=None)`` and ``Dataset(path).load(id)`` are what
training reads; ``rhocat.data.build`` computes a dataset, ``rhocat.data.check``
verifies and summarises one.
"""

from rhocat.data.manifest import Manifest
from rhocat.data.sample import DensitySample
from rhocat.data.store import Dataset

__all__ = ["Dataset", "DensitySample", "Manifest"]
