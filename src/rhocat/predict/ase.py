"""A warm start for ASE's Quantum ESPRESSO calculator (``ase.calculators.espresso.Espresso``).

One call between building the calculator and computing::

    from ase.calculators.espresso import Espresso, EspressoProfile
    from rhocat.predict.ase import espresso_warm_start

    calc = Espresso(profile=EspressoProfile(command="pw.x", pseudo_dir="/path/to/upf"),
                    directory="si-run", pseudopotentials={"Si": "Si.pbe-n-rrkjus_psl.1.0.0.UPF"},
                    input_data={"system": {"ecutwfc": 30, "ecutrho": 240}}, kpts=(4, 4, 4))
    espresso_warm_start(calc, atoms)          # model=None: rhocat's shipped model
    atoms.calc = calc
    atoms.get_potential_energy()              # pw.x starts from the predicted density

Everything is read from the calculator as the user set it: its ``directory``,
``outdir`` and ``prefix`` (pw.x's defaults ``$ESPRESSO_TMPDIR`` or ``./`` and
``pwscf`` when unset), the cutoffs, and the pseudopotential files (from
``control.pseudo_dir``, else the profile's ``pseudo_dir``). The density is
predicted for exactly these files and cutoffs and this cell, written to
``<directory>/<outdir>/<prefix>.save/``, and ``startingpot='file'`` (with
the prediction's ``diago_thr_init`` and ``startingwfc`` unless the user set them, see
:func:`rhocat.predict.core.first_threshold` and
:func:`rhocat.predict.core.warm_startingwfc`) is set in the calculator's
``input_data``. Nothing else of the calculator changes.

The start belongs to ``atoms``: for another structure (a relaxation step, a
new cell) call :func:`espresso_warm_start` again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rhocat.errors import InputError
from rhocat.qe.save import PREDICTION_RECORD, RESTART_FILES

#: pw.x's defaults when the input leaves them out.
PW_DEFAULT_PREFIX = "pwscf"
#: Calculator parameters that are not namelist values (ASE's write_espresso_in arguments).
_NOT_NAMELIST = {
    "input_data",
    "pseudopotentials",
    "kspacing",
    "kpts",
    "koffset",
    "crystal_coordinates",
    "additional_cards",
    "rescale_magmom_fac",
}
_RESTART_FILES = (*RESTART_FILES, PREDICTION_RECORD)


def _namelists(calc) -> Any:
    """The calculator's pw.x namelists, nested (flat keyword arguments merged as ASE does)."""
    import warnings

    from ase.io.espresso import Namelist

    params = calc.parameters
    namelist = Namelist(dict(params.get("input_data") or {}))
    flat = {k: v for k, v in params.items() if k not in _NOT_NAMELIST}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ASE's word on flat keywords
        namelist.to_nested("pw", **flat)
    return namelist


def _pseudo_dir(namelist, calc) -> Path:
    given = namelist["control"].get("pseudo_dir")
    if given is None and getattr(calc, "profile", None) is not None:
        given = getattr(calc.profile, "pseudo_dir", None)
    if given is None:
        given = os.environ.get("ESPRESSO_PSEUDO") or os.path.join(
            os.path.expanduser("~"), "espresso", "pseudo"
        )
    path = Path(str(given)).expanduser()
    return path if path.is_absolute() else Path(calc.directory) / path


def espresso_save_dir(calc) -> Path:
    """``<directory>/<outdir>/<prefix>.save``: where pw.x of ``calc`` reads its start."""
    namelist = _namelists(calc)
    outdir = namelist["control"].get("outdir") or os.environ.get("ESPRESSO_TMPDIR") or "./"
    prefix = namelist["control"].get("prefix") or PW_DEFAULT_PREFIX
    out = Path(str(outdir)).expanduser()
    if not out.is_absolute():
        out = Path(calc.directory) / out
    return out / f"{prefix}.save"


def espresso_warm_start(
    calc,
    atoms,
    model=None,
    *,
    allow_unseen: bool = False,
    name: str | None = None,
):
    """Predict the start density of ``atoms`` for ``calc`` and make pw.x read it.

    Args:
        calc: an ``ase.calculators.espresso.Espresso`` calculator, fully set up
            (profile or ``pseudo_dir``, ``pseudopotentials``, ``ecutwfc``).
        atoms: the structure the calculator will compute (ASE ``Atoms``,
            pymatgen ``Structure``, AiiDA ``StructureData`` or a file).
        model: a rhocat density model; None: the shipped pretrained model.
        allow_unseen: predict for elements the model never saw.
        name: label of the structure in the prediction record.

    Returns:
        The :class:`rhocat.predict.PredictionResult` (``restart_dir`` is the
        ``.save`` folder; its ``requirements`` record the cutoffs, cell and files).

    Raises:
        InputError: no ``ecutwfc``, a spin-polarised or non-collinear set-up, a
            missing pseudopotential entry; ``PseudoError`` for a missing file;
            ``ModelError`` when the model was trained with other files.
    """
    from rhocat.predict.core import predict_restart
    from rhocat.qe.pseudo import family_from_files
    from rhocat.structures.convert import to_atoms

    structure = to_atoms(atoms)
    namelist = _namelists(calc)
    system = namelist["system"]
    if "ecutwfc" not in system:
        raise InputError("the Espresso calculator sets no ecutwfc (input_data['system'])")
    if int(system.get("nspin", 1)) != 1 or system.get("noncolin") or system.get("lspinorb"):
        raise InputError("rhocat predicts spin-unpolarised densities: nspin must be 1")
    if any(getattr(atoms, "get_initial_magnetic_moments", lambda: [])()):
        raise InputError("the atoms carry initial magnetic moments (ASE would set nspin = 2)")
    ecutwfc = float(system["ecutwfc"])
    ecutrho = float(system.get("ecutrho", 4.0 * ecutwfc))
    pseudos = calc.parameters.get("pseudopotentials") or {}
    missing = sorted(set(structure.get_chemical_symbols()) - set(pseudos))
    if missing:
        raise InputError(
            f"the Espresso calculator names no pseudopotential for {', '.join(missing)}"
        )
    pseudo_dir = _pseudo_dir(namelist, calc)
    family = family_from_files(
        {el: pseudo_dir / pseudos[el] for el in set(structure.get_chemical_symbols())},
        name="ase-espresso",
    )
    if model is None:
        from rhocat.pretrained import load_pretrained

        model = load_pretrained()

    save = espresso_save_dir(calc)
    save.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".rhocat-", dir=save.parent))
    try:
        result = predict_restart(
            model,
            structure,
            family=family,
            out_dir=tmp / "prediction",
            allow_unseen=allow_unseen,
            ecutrho_ry=ecutrho,
            name=name,
        )
        _install(tmp / "prediction", save)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    from rhocat.predict.pwinput import run_requirements, warm_start_electrons

    result.restart_dir = str(save)
    result.requirements = run_requirements(
        structure,
        family,
        ecutrho_ry=ecutrho,
        ecutwfc_ry=ecutwfc,
        fft_grid=result.fft_grid,
        restart_dir=save,
        diago_thr_init=result.diago_thr_init,
        startingwfc=result.startingwfc,
    )
    from rhocat.fileio import atomic_write_json

    atomic_write_json(save / PREDICTION_RECORD, result.to_dict())

    input_data = namelist  # nested now; flat keyword arguments stay where the user put them
    input_data["electrons"] = warm_start_electrons(
        input_data["electrons"], result.diago_thr_init, result.startingwfc
    )
    calc.parameters["input_data"] = input_data
    calc.parameters.pop("startingpot", None)
    return result


def _install(src: Path, save: Path) -> None:
    """Put the predicted files into pw.x's ``.save`` folder (other files there stay)."""
    save.mkdir(parents=True, exist_ok=True)
    (save / "paw.txt").unlink(missing_ok=True)  # a stale one would be read for PAW species
    for name in _RESTART_FILES:
        if (src / name).is_file():
            os.replace(src / name, save / name)
