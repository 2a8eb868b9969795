"""pw.x input files from an ASE ``Atoms``, a pseudopotential family and a protocol.

:func:`pw_parameters` builds the namelists (a plain dict, JSON-serialisable:
this is what a dataset stores so that an evaluation can reproduce the run
exactly); :func:`render_pw_input` turns namelists + structure into the text
pw.x reads. Positions and cell are written in Å, as ASE holds them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from rhocat.errors import InputError
from rhocat.qe.gvectors import INPUT_DECIMALS
from rhocat.qe.protocol import Protocol, get_protocol
from rhocat.qe.pseudo import PseudoFamily, load_family

NAMELISTS = ("control", "system", "electrons", "ions", "cell")

#: Where a flat override key belongs (``{"ecutwfc": 25}`` is ``{"system": {"ecutwfc": 25}}``).
KEY_NAMELIST = {
    **dict.fromkeys(
        [
            "calculation",
            "prefix",
            "outdir",
            "pseudo_dir",
            "tprnfor",
            "tstress",
            "disk_io",
            "verbosity",
            "max_seconds",
            "etot_conv_thr",
            "forc_conv_thr",
            "nstep",
        ],
        "control",
    ),
    **dict.fromkeys(
        [
            "ecutwfc",
            "ecutrho",
            "occupations",
            "smearing",
            "degauss",
            "nspin",
            "nbnd",
            "starting_magnetization",
            "input_dft",
            "nosym",
        ],
        "system",
    ),
    **dict.fromkeys(
        [
            "conv_thr",
            "mixing_beta",
            "mixing_mode",
            "mixing_ndim",
            "electron_maxstep",
            "startingpot",
            "startingwfc",
            "scf_must_converge",
            "diagonalization",
            "diago_thr_init",
        ],
        "electrons",
    ),
    **dict.fromkeys(["ion_dynamics"], "ions"),
    **dict.fromkeys(["cell_dynamics", "press_conv_thr", "cell_dofree"], "cell"),
}

START_MODES = ("atomic", "file")

#: ecutrho / ecutwfc when a user gives ecutwfc alone: the usual dual of ultrasoft and
#: PAW files (norm-conserving files need 4, so 8 is never too little).
DEFAULT_DUAL = 8.0


def cutoff_overrides(ecutwfc: float | None = None, ecutrho: float | None = None) -> dict:
    """Flat pw.x overrides for the cutoffs a user gives (Ry): the one rule of every command.

    Neither: ``{}`` (the family's cutoffs). ``ecutwfc`` alone: ``ecutrho`` =
    :data:`DEFAULT_DUAL` × ``ecutwfc``. ``ecutrho`` alone: the family's ``ecutwfc``
    with that ``ecutrho``. :func:`pw_parameters` checks the values (:func:`check_cutoffs`).
    """
    out: dict = {}
    if ecutwfc is not None:
        out["ecutwfc"] = float(ecutwfc)
        out["ecutrho"] = float(ecutrho) if ecutrho is not None else DEFAULT_DUAL * ecutwfc
    elif ecutrho is not None:
        out["ecutrho"] = float(ecutrho)
    return out


def pw_parameters(
    atoms: Atoms,
    family: str | PseudoFamily = "debian-pbe",
    protocol: str | Protocol = "fast",
    *,
    calculation: str = "scf",
    startingpot: str = "atomic",
    prefix: str = "rhocat",
    outdir: str = "./out",
    pseudo_dir: str = "./pseudo",
    overrides: Mapping | None = None,
) -> dict:
    """Namelists of a pw.x run, as ``{"control": {...}, "system": {...}, ...}``.

    Args:
        atoms: the structure (Å); must be periodic in 3D.
        family: pseudopotential family (name, directory or object).
        protocol: ``fast``, ``moderate`` or a :class:`Protocol`.
        calculation: ``scf``, ``relax`` or ``vc-relax``.
        startingpot: ``atomic`` (pw.x's atomic superposition) or ``file``.
        overrides: nested (``{"system": {"ecutwfc": 25}}``) or flat (``{"ecutwfc": 25}``)
            values that replace the protocol's.

    Returns:
        The namelists plus a ``k_points`` entry (the Monkhorst-Pack mesh).
    """
    family = load_family(family)
    protocol = get_protocol(protocol)
    _check_atoms(atoms)
    symbols = atoms.get_chemical_symbols()
    ecutwfc, ecutrho = family.cutoffs(symbols)
    nat = len(atoms)
    if startingpot not in START_MODES:
        raise InputError(f"startingpot must be one of {START_MODES}, not {startingpot!r}")
    params = {
        "control": {
            "calculation": calculation,
            "prefix": prefix,
            "outdir": outdir,
            "pseudo_dir": pseudo_dir,
            "disk_io": "low",
        },
        "system": {
            "ibrav": 0,
            "nat": nat,
            "ntyp": len(set(symbols)),
            "ecutwfc": ecutwfc,
            "ecutrho": ecutrho,
            "occupations": "smearing",
            "smearing": protocol.smearing,
            "degauss": protocol.degauss,
            "nspin": 1,
        },
        "electrons": {
            "conv_thr": protocol.conv_thr_per_atom * nat,
            "mixing_beta": protocol.mixing_beta,
            "electron_maxstep": protocol.electron_maxstep,
            "startingpot": startingpot,
        },
        "k_points": list(protocol.kpoint_mesh(atoms.cell.array)),
    }
    if calculation in ("relax", "vc-relax"):
        params["control"].update(
            tprnfor=True,
            tstress=True,
            etot_conv_thr=protocol.etot_conv_thr_per_atom * nat,
            forc_conv_thr=protocol.forc_conv_thr,
        )
        params["ions"] = {"ion_dynamics": "bfgs"}
        if calculation == "vc-relax":
            params["cell"] = {"cell_dynamics": "bfgs"}
    if overrides:
        apply_overrides(params, overrides)
    check_cutoffs(params["system"], ecutrho_given=_overridden(overrides, "system", "ecutrho"))
    if params["system"]["ecutrho"] < 4 * params["system"]["ecutwfc"]:
        params["system"]["ecutrho"] = 4 * params["system"]["ecutwfc"]
    return params


def _overridden(overrides: Mapping | None, namelist: str, key: str) -> bool:
    if not overrides:
        return False
    nested = overrides.get(namelist)
    return key in overrides or (isinstance(nested, Mapping) and key in nested)


def check_cutoffs(system: Mapping, *, ecutrho_given: bool = True) -> None:
    """Refuse cutoffs pw.x cannot use: ecutwfc and ecutrho must be finite and > 0 Ry,
    and a given ecutrho at least 4 × ecutwfc (the density of |ψ|²). An ecutrho
    that only comes from the family's suggestion is raised to 4 × ecutwfc instead."""
    import math

    for key in ("ecutwfc", "ecutrho"):
        value = system.get(key)
        try:
            ok = value is not None and math.isfinite(float(value)) and float(value) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"{key} must be a positive number of Ry, not {value!r}")
    if ecutrho_given and system["ecutrho"] < 4 * system["ecutwfc"] - 1e-9:
        raise InputError(
            f"ecutrho {system['ecutrho']:g} Ry is below 4 x ecutwfc = "
            f"{4 * system['ecutwfc']:g} Ry: pw.x needs at least that"
        )


def apply_overrides(params: dict, overrides: Mapping) -> dict:
    """Merge nested or flat overrides into namelists in place (and return them)."""
    for key, value in overrides.items():
        if key in NAMELISTS and isinstance(value, Mapping):
            params.setdefault(key, {}).update(value)
        elif key == "k_points":
            params["k_points"] = list(value)
        elif key in KEY_NAMELIST:
            params.setdefault(KEY_NAMELIST[key], {})[key] = value
        else:
            raise InputError(
                f"unknown pw.x override {key!r}: give it as {{'<namelist>': {{{key!r}: ...}}}}"
            )
    return params


def _check_atoms(atoms: Atoms) -> None:
    if len(atoms) == 0:
        raise InputError("the structure has no atoms")
    if not all(atoms.pbc) or atoms.cell.rank < 3:
        raise InputError("rhocat works on bulk crystals: the structure needs a 3D periodic cell")
    unknown = [s for s in set(atoms.get_chemical_symbols()) if s not in atomic_numbers]
    if unknown:
        raise InputError(f"unknown element symbol(s): {', '.join(unknown)}")


def _fortran(value) -> str:
    if isinstance(value, bool | np.bool_):
        return ".true." if value else ".false."
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return (
            repr(float(value)).replace("e", "d")
            if "e" in repr(float(value))
            else repr(float(value))
        )
    return "'" + str(value).replace("'", "") + "'"


def render_pw_input(atoms: Atoms, params: Mapping, family: str | PseudoFamily) -> str:
    """The text of a pw.x input file for ``atoms`` with namelists ``params``.

    Species are labelled by element; masses from ASE; pseudopotential file names
    from ``family`` (pw.x finds them in ``params["control"]["pseudo_dir"]``).
    """
    family = load_family(family)
    params = copy.deepcopy(dict(params))
    lines: list[str] = []
    for name in NAMELISTS:
        if name not in params and name not in ("control", "system", "electrons"):
            continue
        lines.append(f"&{name.upper()}")
        for key, value in params.get(name, {}).items():
            lines.append(f"  {key} = {_fortran(value)}")
        lines.append("/")
    species = list(dict.fromkeys(atoms.get_chemical_symbols()))
    lines.append("ATOMIC_SPECIES")
    for s in species:
        lines.append(f"  {s} {atomic_masses[atomic_numbers[s]]:.4f} {family[s].filename}")
    lines.append("CELL_PARAMETERS angstrom")
    for vec in atoms.cell.array:
        lines.append("  " + " ".join(f"{x:.{INPUT_DECIMALS}f}" for x in vec))
    lines.append("ATOMIC_POSITIONS angstrom")
    for s, pos in zip(atoms.get_chemical_symbols(), atoms.positions, strict=True):
        lines.append(f"  {s} " + " ".join(f"{x:.{INPUT_DECIMALS}f}" for x in pos))
    k = params.get("k_points", [1, 1, 1])
    lines.append("K_POINTS automatic")
    lines.append(f"  {k[0]} {k[1]} {k[2]} 0 0 0")
    return "\n".join(lines) + "\n"
