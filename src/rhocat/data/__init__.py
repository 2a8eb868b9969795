"""The density dataset on disk: one HDF5 file per structure plus an index."""

from rhocat.data.sample import DensitySample

__all__ = ["DensitySample"]
