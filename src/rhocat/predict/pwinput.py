"""What a pw.x run must say to start from a predicted folder, and what the prediction assumed.

pw.x 6.7 reads ``charge-density.dat`` *by position*: the i-th value is taken as
the density at the i-th G vector of its own list, which depends on the cell
vectors and ``ecutrho`` only. A start predicted for another cutoff or cell (or
the same crystal written with ``ibrav``, whose cell vectors differ) is read
without any error and is silently wrong. :func:`run_requirements` records, next
to the files (``prediction.json``), everything the density was built for, and
the lines the pw.x input must contain; :func:`requirement_lines` says it in
words for the screen.

Folder layout: pw.x reads ``<outdir>/<prefix>.save/charge-density.dat`` (and
``paw.txt``). A predicted folder named ``NAME.save`` is used in place with
``outdir`` = its parent and ``prefix`` = ``NAME``; any other folder must be
copied to ``<outdir>/<prefix>.save`` first. pw.x writes its own results into
the same folder, replacing the prediction.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from rhocat.qe.start import cell_bohr

#: The namelist value that makes pw.x read the folder.
STARTINGPOT = "file"
SAVE_SUFFIX = ".save"


def warm_start_electrons(
    electrons: Mapping | None, diago_thr_init: float, startingwfc: str | None = None
) -> dict:
    """The ``&ELECTRONS`` values of a warm start: ``electrons`` (a copy) with
    ``startingpot='file'`` and, unless it sets them (in any letter case), the prediction's
    first diagonalization threshold ``diago_thr_init`` and, when not None, its
    ``startingwfc`` (:attr:`rhocat.predict.core.PredictionResult.diago_thr_init`,
    :attr:`~rhocat.predict.core.PredictionResult.startingwfc`).
    """
    out = dict(electrons or {})
    out["startingpot"] = STARTINGPOT
    given = {str(k).lower() for k in out}
    if "diago_thr_init" not in given:
        out["diago_thr_init"] = float(diago_thr_init)
    if startingwfc is not None and "startingwfc" not in given:
        out["startingwfc"] = str(startingwfc)
    return out


def _outdir_prefix(restart_dir: str | os.PathLike) -> tuple[str | None, str | None]:
    """(outdir, prefix) under which pw.x finds ``restart_dir`` in place, else (None, None)."""
    path = Path(restart_dir).resolve()
    if path.name.endswith(SAVE_SUFFIX) and len(path.name) > len(SAVE_SUFFIX):
        return str(path.parent), path.name[: -len(SAVE_SUFFIX)]
    return None, None


def run_requirements(
    atoms: Atoms,
    family,
    *,
    ecutrho_ry: float,
    ecutwfc_ry: float | None,
    fft_grid,
    restart_dir: str | os.PathLike,
    diago_thr_init: float,
    startingwfc: str | None = None,
) -> dict:
    """The settings a predicted start was built for, and the pw.x lines that must match.

    Args:
        atoms: the structure (Å) the density was predicted for.
        family: the :class:`rhocat.qe.pseudo.PseudoFamily` of the ACS.
        ecutrho_ry: density cutoff of the G list, Ry.
        ecutwfc_ry: wavefunction cutoff of the intended run, Ry (None when only
            ``ecutrho`` was given: the density file does not depend on it).
        fft_grid: real-space grid rhocat used (pw.x may choose a larger one for
            symmetry; the file is in G space, so that does not matter).
        restart_dir: the predicted folder.
        diago_thr_init: the first diagonalization threshold recommended for this start
            (:func:`rhocat.predict.core.first_threshold`).
        startingwfc: pw.x's ``startingwfc`` recommended for it, None for pw.x's own
            (:func:`rhocat.predict.core.warm_startingwfc`).

    Returns:
        ``{"assumed": {...}, "pw_input": {...}}`` (plain data): ``assumed`` holds
        the cutoffs (Ry), the cell (Å and bohr), the FFT grid, ``nspin`` and each
        element's pseudopotential file, path and md5; ``pw_input`` the namelist
        values (``control``: ``outdir``/``prefix`` or None when the folder must
        be copied, ``system``: the cutoffs and ``nspin``, ``electrons``:
        ``startingpot='file'`` and ``diago_thr_init``), ``atomic_species``,
        ``pseudo_dir`` (None when the files lie in several folders),
        ``cell_parameters_angstrom`` and ``save_dir`` (where pw.x will look).
    """
    species = list(dict.fromkeys(atoms.get_chemical_symbols()))
    pseudos = {
        s: {
            "file": family[s].filename,
            "path": str(family[s].path),
            "md5": family[s].md5,
            "kind": family[s].kind,
        }
        for s in species
    }
    dirs = {str(Path(p["path"]).parent) for p in pseudos.values()}
    outdir, prefix = _outdir_prefix(restart_dir)
    system = {"ecutrho": float(ecutrho_ry), "nspin": 1}
    if ecutwfc_ry is not None:
        system = {"ecutwfc": float(ecutwfc_ry), **system}
    cell = atoms.cell.array
    return {
        "assumed": {
            "ecutwfc_ry": None if ecutwfc_ry is None else float(ecutwfc_ry),
            "ecutrho_ry": float(ecutrho_ry),
            "cell_angstrom": cell.tolist(),
            "cell_bohr": cell_bohr(atoms).tolist(),
            "fft_grid": [int(n) for n in fft_grid],
            "nspin": 1,
            "pseudopotentials": pseudos,
        },
        "pw_input": {
            "control": {"outdir": outdir, "prefix": prefix},
            "system": system,
            "electrons": warm_start_electrons(None, diago_thr_init, startingwfc),
            "atomic_species": [
                [s, round(float(atomic_masses[atomic_numbers[s]]), 4), pseudos[s]["file"]]
                for s in species
            ],
            "pseudo_dir": dirs.pop() if len(dirs) == 1 else None,
            "cell_parameters_angstrom": cell.tolist(),
            "save_dir": str(Path(restart_dir).resolve())
            if outdir is not None
            else "<outdir>/<prefix>.save",
        },
    }


def _num(x: float) -> str:
    return f"{x:g}"


def requirement_lines(requirements: dict, restart_dir: str | os.PathLike) -> list[str]:
    """The pw.x lines of :func:`run_requirements`, as text for the screen (no trailing newline)."""
    pw = requirements["pw_input"]
    assumed = requirements["assumed"]
    ctrl = pw["control"]
    lines = ["pw.x reads this start by position: its input must say exactly"]
    if ctrl["outdir"] is not None:
        lines.append(f"  &CONTROL   outdir = '{ctrl['outdir']}', prefix = '{ctrl['prefix']}'")
    else:
        lines.append(
            f"  &CONTROL   outdir = OUTDIR, prefix = PREFIX, after copying {restart_dir}/* "
            "to OUTDIR/PREFIX.save/ (or predict into a folder named PREFIX.save)"
        )
    system = pw["system"]
    cut = ", ".join(f"{k} = {_num(system[k])}" for k in ("ecutwfc", "ecutrho") if k in system)
    lines.append(f"  &SYSTEM    {cut}, nspin = 1")
    el = pw["electrons"]
    wfc = f", startingwfc = '{el['startingwfc']}'" if el.get("startingwfc") else ""
    lines.append(
        f"  &ELECTRONS startingpot = '{el['startingpot']}', "
        f"diago_thr_init = {_num(el['diago_thr_init'])}{wfc} (recommended, not required)"
    )
    where = (
        f"pseudo_dir = '{pw['pseudo_dir']}'"
        if pw["pseudo_dir"]
        else "files: " + ", ".join(p["path"] for p in assumed["pseudopotentials"].values())
    )
    lines.append(f"  ATOMIC_SPECIES ({where})")
    lines += [f"    {s} {m:g} {f}" for s, m, f in pw["atomic_species"]]
    lines.append("  CELL_PARAMETERS angstrom (these vectors, not an ibrav equivalent)")
    lines += ["    " + " ".join(f"{x:.10f}" for x in row) for row in pw["cell_parameters_angstrom"]]
    grid = "x".join(str(n) for n in assumed["fft_grid"])
    lines.append(
        f"  assumed: ecutrho {_num(assumed['ecutrho_ry'])} Ry, FFT grid {grid}, nspin 1, "
        "the same atoms and pseudopotential files (md5 in prediction.json)"
    )
    return lines
