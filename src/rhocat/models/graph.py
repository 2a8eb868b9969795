"""Periodic neighbour lists (numpy/scipy; lengths in bohr)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial import cKDTree


def _image_range(cell: np.ndarray, cutoff: float) -> np.ndarray:
    """Number of periodic images needed along each lattice vector to cover ``cutoff``."""
    recip = np.linalg.inv(cell).T  # rows: b_i / 2π
    heights = 1.0 / np.linalg.norm(recip, axis=1)  # distances between lattice planes
    return np.ceil(cutoff / heights).astype(int)


def periodic_images(
    positions: np.ndarray, cell: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray]:
    """Atom images that can lie within ``cutoff`` of the home cell.

    Returns ``(image_positions (M, 3), image_atom (M,))``; positions are wrapped
    into the home cell first (what matters is the relative geometry).
    """
    cell = np.asarray(cell, dtype=np.float64)
    pos = np.asarray(positions, dtype=np.float64)
    frac = pos @ np.linalg.inv(cell)
    wrapped = (frac - np.floor(frac)) @ cell
    nmax = _image_range(cell, cutoff)
    shifts = np.array(list(itertools.product(*[range(-n, n + 1) for n in nmax])), dtype=float)
    imgs = (wrapped[None, :, :] + (shifts @ cell)[:, None, :]).reshape(-1, 3)
    atom = np.tile(np.arange(len(pos)), len(shifts))
    return imgs, atom


def atom_graph(
    positions: np.ndarray, cell: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed edges (i <- j) between atoms closer than ``cutoff`` (bohr), with periodic images.

    Returns ``(center i (E,), neighbour j (E,), vector r_j + T − r_i (E, 3) bohr)``; self-pairs
    at zero distance are excluded. Invariant under translation and atom order.
    """
    cell = np.asarray(cell, dtype=np.float64)
    pos = np.asarray(positions, dtype=np.float64)
    frac = pos @ np.linalg.inv(cell)
    wrapped = (frac - np.floor(frac)) @ cell
    imgs, atom = periodic_images(wrapped, cell, cutoff)
    tree = cKDTree(imgs)
    centers, nbrs, vecs = [], [], []
    for i, lists in enumerate(tree.query_ball_point(wrapped, cutoff)):
        idx = np.asarray(lists, dtype=int)
        v = imgs[idx] - wrapped[i]
        keep = np.linalg.norm(v, axis=1) > 1e-8
        centers.append(np.full(keep.sum(), i))
        nbrs.append(atom[idx[keep]])
        vecs.append(v[keep])
    return np.concatenate(centers), np.concatenate(nbrs), np.concatenate(vecs).reshape(-1, 3)


def probe_neighbours(
    probes: np.ndarray, positions: np.ndarray, cell: np.ndarray, cutoff: float, max_neighbours: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each probe, up to ``max_neighbours`` nearest atoms (with images) within ``cutoff``.

    Returns ``(atom index (P, K), vector atom − probe (P, K, 3) bohr, mask (P, K) bool)``.
    """
    imgs, atom = periodic_images(positions, cell, cutoff)
    k = min(max_neighbours, len(imgs))
    tree = cKDTree(imgs)
    frac = np.asarray(probes) @ np.linalg.inv(cell)
    wrapped = (frac - np.floor(frac)) @ np.asarray(cell)
    dist, idx = tree.query(wrapped, k=k, distance_upper_bound=cutoff)
    dist = dist.reshape(len(wrapped), k)
    idx = idx.reshape(len(wrapped), k)
    mask = np.isfinite(dist)
    safe = np.where(mask, idx, 0)
    vec = imgs[safe] - wrapped[:, None, :]
    vec[~mask] = 0.0
    return atom[safe], vec, mask
