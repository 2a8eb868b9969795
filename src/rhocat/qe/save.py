"""A restart folder that pw.x reads with ``startingpot='file'``.

Measured with QE 6.7: pw.x needs nothing in ``<outdir>/<prefix>.save/`` but
``charge-density.dat`` (and ``paw.txt`` when any species is PAW); no
``data-file-schema.xml``. The density's G vectors must be pw.x's own list in
pw.x's order (see :mod:`rhocat.qe.gvectors`), because pw.x reads them by
position.

Note on comparing starts: pw.x's first diagonalization threshold depends on
the start (1e-2 for 'atomic', 1e-5 for 'file') unless ``diago_thr_init`` is
set; with it set, a restart from rhocat's ACS reproduces
``startingpot='atomic'`` iteration by iteration. rhocat's warm starts set it to
the value their model's card asks for (the shipped model's: 1e-2, chosen on validation
cells; :func:`rhocat.predict.core.first_threshold`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rhocat.fileio import atomic_dir
from rhocat.qe.density import ChargeDensity, density_bytes, read_charge_density
from rhocat.qe.paw import Becsum, paw_txt_text, read_paw_txt

__all__ = [
    "copy_restart",
    "read_restart",
    "write_restart",
    "write_restart_files",
    "DENSITY_FILE",
    "PAW_FILE",
    "PREDICTION_RECORD",
    "RESTART_FILES",
]

DENSITY_FILE = "charge-density.dat"
PAW_FILE = "paw.txt"
#: What pw.x reads from a ``.save`` folder with ``startingpot='file'`` (paw.txt: PAW only).
RESTART_FILES = (DENSITY_FILE, PAW_FILE)
#: The record rhocat writes beside a *predicted* start (pw.x ignores it): its presence
#: tells a prediction from a converged run's folder.
PREDICTION_RECORD = "prediction.json"


def read_restart(directory: str | os.PathLike, nat: int) -> tuple[ChargeDensity, Becsum | None]:
    """The density (and PAW occupations, None without ``paw.txt``) of a ``.save`` folder.

    Args:
        directory: a pw.x ``<prefix>.save`` folder or one written by :func:`write_restart`.
        nat: number of atoms of the structure (``paw.txt`` does not state it).
    """
    directory = Path(directory)
    density = read_charge_density(directory / DENSITY_FILE)
    paw = directory / PAW_FILE
    becsum = read_paw_txt(paw, nat=nat, nspin=density.nspin) if paw.is_file() else None
    return density, becsum


def write_restart(
    directory: str | os.PathLike, density: ChargeDensity, becsum: Becsum | None = None
) -> Path:
    """Write ``charge-density.dat`` (and ``paw.txt``) into ``directory``.

    ``directory`` is normally ``<outdir>/<prefix>.save`` of the run that will
    start from it. A new folder appears complete or not at all (it is written
    under a temporary name and renamed); in an existing folder each file is
    replaced atomically and other files are left alone
    (:func:`rhocat.fileio.atomic_dir`).

    Args:
        directory: the restart folder.
        density: ρ(G) on pw.x's G list for the structure and ecutrho of the run.
        becsum: PAW on-site occupations (required by pw.x when a species is PAW).

    Returns:
        The folder, as a Path.
    """
    with atomic_dir(directory) as tmp:
        write_restart_files(tmp, density, becsum)
    return Path(directory)


def write_restart_files(
    folder: str | os.PathLike, density: ChargeDensity, becsum: Becsum | None = None
) -> None:
    """Write ``charge-density.dat`` (and ``paw.txt``) into ``folder`` as plain files: for a
    folder being built under a temporary name (:func:`rhocat.fileio.atomic_dir`); a
    restart folder in place is :func:`write_restart`'s job."""
    files = {DENSITY_FILE: density_bytes(density)}
    if becsum is not None:
        if becsum.nspin != density.nspin:
            raise ValueError(
                f"becsum has {becsum.nspin} spin components, the density {density.nspin}"
            )
        files[PAW_FILE] = paw_txt_text(becsum).encode("ascii")
    for name, data in files.items():
        (Path(folder) / name).write_bytes(data)


def copy_restart(
    template: str | os.PathLike,
    folder: str | os.PathLike,
    density: ChargeDensity | None = None,
    becsum: Becsum | None = None,
) -> Path:
    """A copy of the restart folder ``template`` at ``folder`` (which must not exist) with
    ``charge-density.dat`` and/or ``paw.txt`` replaced where given and every other file
    kept: for runs that differ only in their start (e.g. the ACS beside a prediction)."""
    folder = Path(folder)
    if becsum is not None:  # checked before anything is written
        rho = density if density is not None else read_charge_density(Path(template) / DENSITY_FILE)
        if becsum.nspin != rho.nspin:
            raise ValueError(f"{folder}: becsum and density differ in their spin components")
    shutil.copytree(template, folder)
    if density is not None:
        (folder / DENSITY_FILE).write_bytes(density_bytes(density))
    if becsum is not None:
        (folder / PAW_FILE).write_text(paw_txt_text(becsum), encoding="ascii")
    return folder
