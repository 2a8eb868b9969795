"""The dataset manifest: the settings that make every entry of a dataset comparable.

``manifest.json`` at the top of a dataset directory records the protocol,
pseudopotential family, relaxation flag, perturbation and pw.x overrides used
for every entry. Building into a directory whose manifest differs is an error:
mixing densities computed with different settings would silently corrupt
training and evaluation.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rhocat.errors import InputError
from rhocat.fileio import atomic_write_text

MANIFEST_NAME = "manifest.json"
FORMAT = "rhocat-dataset"
VERSION = 1
#: entry storages a dataset can use (see :class:`Manifest`)
STORAGES = ("full", "compact")


@dataclass
class Manifest:
    """Settings shared by all entries of a dataset.

    Attributes:
        protocol: rhocat.qe protocol name (``fast``, ``moderate``).
        family: pseudopotential family name, or an absolute directory path.
        relax: whether each structure was vc-relaxed before the SCF.
        perturb_ang: standard deviation of the random displacement of each
            atom, Å (0: none).
        strain: maximum absolute component of the random symmetric strain
            applied to the cell (0: none).
        seed: seed of the perturbation (combined with each structure id).
        overrides: pw.x parameters overriding the protocol (e.g. ``ecutwfc``).
        storage: how entry files hold the density: ``"full"`` (ρ and ρ_ACS on
            the whole G list, float64, with the Miller indices) or
            ``"compact"`` (ρ on half the G sphere as float32; the Miller list
            and ρ_ACS are recomputed on load; see :mod:`rhocat.data.entry`).
    """

    protocol: str = "fast"
    family: str = "debian-pbe"
    relax: bool = False
    perturb_ang: float = 0.0
    strain: float = 0.0
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    storage: str = "full"

    def __post_init__(self) -> None:
        if self.storage not in STORAGES:
            raise InputError(
                f"dataset storage must be one of {', '.join(STORAGES)}, not {self.storage!r}"
            )

    def identity(self) -> dict[str, Any]:
        """The fields that must agree between two runs into one dataset."""
        return json.loads(json.dumps(asdict(self), sort_keys=True))

    def differences(self, other: Manifest) -> list[str]:
        a, b = self.identity(), other.identity()
        return [f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(a) if a.get(k) != b.get(k)]


def dataset_manifest(
    ecutwfc: float | None,
    *,
    perturb_ang: float = 0.0,
    strain: float = 0.0,
    seed: int = 0,
    storage: str = "full",
    family: str = "debian-pbe",
    protocol: str = "fast",
) -> Manifest:
    """The manifest of a dataset computed at the wavefunction cutoff ``ecutwfc`` (Ry) without
    relaxation: the settings of ``rhocat demo`` and of the benchmark datasets.

    ``ecutrho`` follows rhocat's one cutoff rule (:func:`rhocat.qe.inputs.cutoff_overrides`:
    8 × ``ecutwfc``; None: the family's cutoffs); ``perturb_ang`` (Å), ``strain`` and
    ``seed`` perturb each structure (:class:`Manifest`).
    """
    from rhocat.qe.inputs import cutoff_overrides

    return Manifest(
        protocol=protocol,
        family=family,
        relax=False,
        perturb_ang=perturb_ang,
        strain=strain,
        seed=seed,
        overrides={"system": cutoff_overrides(ecutwfc)},
        storage=storage,
    )


def read_manifest(directory: str | os.PathLike) -> Manifest:
    """Read ``directory/manifest.json``; :class:`InputError` when absent or foreign."""
    path = Path(directory) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{directory}: not a rhocat dataset (no {MANIFEST_NAME})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable dataset manifest ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path}: not a rhocat dataset manifest")
    if int(data.get("version", 0)) > VERSION:
        raise InputError(
            f"{path}: dataset format version {data['version']} is newer than {VERSION}"
        )
    known = {k: data[k] for k in Manifest.__dataclass_fields__ if k in data}
    return Manifest(**known)


def write_manifest(directory: str | os.PathLike, manifest: Manifest) -> None:
    """Write the manifest atomically."""
    data = {"format": FORMAT, "version": VERSION, **manifest.identity()}
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write_text(Path(directory) / MANIFEST_NAME, text, fsync=True)
