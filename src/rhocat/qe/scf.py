"""One pw.x run from an ASE ``Atoms``: SCF (or relaxation) from a chosen start density.

Start modes:

- ``"atomic"``: pw.x's own ``startingpot='atomic'`` (the atomic charge
  superposition, ACS, the paper's baseline);
- ``"acs"``: rhocat's Python ACS written to a restart folder and read with
  ``startingpot='file'`` (must reproduce ``"atomic"``);
- a path: any folder holding ``charge-density.dat`` (and ``paw.txt`` for PAW
  species), read with ``startingpot='file'``.

A crash, a timeout or a non-converged SCF is a *result* (``converged=False``
with a ``reason`` and the tail of the output), never an exception: pipelines
record it and go on. Bad input (unknown element, missing pseudopotential,
missing pw.x, unreadable restart folder) raises :class:`rhocat.errors.RhocatError`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ase import Atoms

from rhocat.errors import DensityFileError, InputError
from rhocat.fileio import to_jsonable
from rhocat.qe.inputs import pw_parameters, render_pw_input
from rhocat.qe.parse import ScfHistory, parse_stdout, parse_xml
from rhocat.qe.protocol import Protocol
from rhocat.qe.pseudo import PseudoFamily, load_family
from rhocat.qe.runner import run_pw
from rhocat.qe.save import PREDICTION_RECORD, RESTART_FILES
from rhocat.structure_checks import MIN_DISTANCE_RATIO, check_bulk
from rhocat.units import BOHR_ANGSTROM

PREFIX = "rhocat"
OUTDIR = "out"
#: pw.x's first-iteration diagonalization threshold for startingpot='atomic'.
ATOMIC_DIAGO_THR_INIT = 1.0e-2
#: ... and for startingpot='file' (pw.x trusts a density read from file).
FILE_DIAGO_THR_INIT = 1.0e-5
#: The values of pw.x's ``startingwfc`` a warm start may ask for, and pw.x's own default
#: (which adds random noise to the atomic PAW occupations, QE's ``PAW_atomic_becsum``).
STARTINGWFC_VALUES = ("atomic", "atomic+random", "random")
PW_STARTINGWFC = "atomic+random"
#: A warm start's first threshold is the prediction's (``prediction.json``,
#: ``requirements.pw_input.electrons.diago_thr_init``): the one its model's card chose on
#: validation cells, else pw.x's own :data:`FILE_DIAGO_THR_INIT`
#: (:func:`rhocat.predict.core.first_threshold`). A ``diago_thr_init`` the user sets is kept;
#: so is the record's ``startingwfc`` (:func:`rhocat.predict.core.warm_startingwfc`).
#: Default wall-clock limit of ``rhocat scf``: BASE + PER_ATOM × nat^1.5 seconds.
TIMEOUT_BASE_S = 600.0
TIMEOUT_PER_ATOM_S = 60.0


def default_timeout_s(n_atoms: int) -> float:
    """Default wall-clock limit (s) of one pw.x run on ``n_atoms`` atoms.

    600 s + 60 s × nat^1.5: 770 s for 2 atoms, 1.6 h for 64, 53 h for 216. A guard
    against a run that never ends (a hung MPI rank, a mixing that cycles), far above
    what the "fast" protocol needs (Si, 2 atoms: about 2 s on one core).
    """
    if n_atoms < 1:
        raise ValueError("n_atoms must be >= 1")
    return TIMEOUT_BASE_S + TIMEOUT_PER_ATOM_S * float(n_atoms) ** 1.5


def check_run_options(ranks: int | None, timeout_s: float | None) -> None:
    """Refuse MPI ranks below 1 and a timeout that is not a positive number of seconds."""
    import math

    if ranks is not None and (int(ranks) != ranks or ranks < 1):
        raise InputError(f"ranks must be a whole number >= 1, not {ranks}")
    if timeout_s is not None and not (timeout_s > 0 and math.isfinite(timeout_s)):
        raise InputError(f"the timeout must be a positive number of seconds, not {timeout_s}")


@dataclass
class ScfResult:
    """Plain-data outcome of one pw.x run (energies Ry unless named eV; times s)."""

    converged: bool
    iterations: int
    scf_accuracy_ry: list[float]
    energies_ry: list[float]
    energy_ry: float | None
    fermi_energy_ev: float | None
    band_gap_ev: float | None
    n_electrons: float | None
    fft_grid: tuple[int, int, int] | None
    wall_s: float
    pw_wall_s: float | None
    reason: str
    output_tail: str
    save_dir: str | None
    workdir: str
    parameters: dict
    start: str
    qe_version: str | None
    pseudos: dict = field(default_factory=dict)
    final_atoms: Atoms | None = None
    initial_density: str | None = None
    timeout_s: float | None = None  # the wall-clock limit the run had (s); None: none

    def to_dict(self) -> dict:
        """JSON-serialisable dict (``final_atoms`` as cell/positions/symbols in Å)."""
        d = asdict(self)
        d.pop("final_atoms")
        if self.final_atoms is not None:
            d["final_structure"] = {
                "symbols": self.final_atoms.get_chemical_symbols(),
                "cell_angstrom": self.final_atoms.cell.array.tolist(),
                "positions_angstrom": self.final_atoms.positions.tolist(),
            }
        if self.fft_grid is not None:
            d["fft_grid"] = list(self.fft_grid)
        return d


def save_dir_of(workdir: str | os.PathLike) -> Path:
    """The ``.save`` folder of a run made by :func:`run_scf` in ``workdir``."""
    return Path(workdir) / OUTDIR / f"{PREFIX}.save"


def _link_pseudos(family: PseudoFamily, symbols, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for s in sorted(set(symbols)):
        target = directory / family[s].filename
        if not target.exists():
            try:
                os.symlink(family[s].path, target)
            except OSError:
                shutil.copy(family[s].path, target)


def _stage_restart(start, atoms: Atoms, family: PseudoFamily, save: Path, params: dict) -> None:
    save.parent.mkdir(parents=True, exist_ok=True)
    if start == "acs":
        from rhocat.qe.start import acs_restart

        acs_restart(atoms, family, params["system"]["ecutrho"], save, overwrite=True)
        return
    src = Path(start)
    if not (src / "charge-density.dat").is_file():
        raise DensityFileError(f"{src} holds no charge-density.dat to start from")
    from rhocat.qe.start import check_start_folder

    check_start_folder(src, atoms, family, params["system"]["ecutrho"])
    save.mkdir(parents=True, exist_ok=True)
    for name in RESTART_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, save / name)


def recorded_warm_settings(start: str | os.PathLike) -> dict:
    """The ``&ELECTRONS`` values rhocat's prediction record in folder ``start`` recommends
    (``requirements.pw_input.electrons``): ``diago_thr_init`` (> 0) and ``startingwfc``
    (one of :data:`STARTINGWFC_VALUES`), each only when the record names a valid one; {}
    when ``start`` is not a folder rhocat predicted."""
    if str(start) in ("atomic", "acs") or not (Path(start) / PREDICTION_RECORD).is_file():
        return {}
    try:
        record = json.loads((Path(start) / PREDICTION_RECORD).read_text())
        electrons = record["requirements"]["pw_input"]["electrons"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(electrons, dict):
        return {}
    out: dict = {}
    thr = electrons.get("diago_thr_init")
    if isinstance(thr, (int, float)) and not isinstance(thr, bool) and thr > 0:
        out["diago_thr_init"] = float(thr)
    if electrons.get("startingwfc") in STARTINGWFC_VALUES:
        out["startingwfc"] = electrons["startingwfc"]
    return out


def run_scf(
    atoms: Atoms,
    *,
    family: str | PseudoFamily = "debian-pbe",
    protocol: str | Protocol = "fast",
    start: str | os.PathLike = "atomic",
    calculation: str = "scf",
    workdir: str | os.PathLike | None = None,
    ranks: int | None = None,
    timeout_s: float | None = None,
    overrides: Mapping | None = None,
    parameters: Mapping | None = None,
    min_distance_ratio: float = MIN_DISTANCE_RATIO,
    on_line: Callable[[str], None] | None = None,
) -> ScfResult:
    """Run pw.x on ``atoms`` and return its SCF history and results.

    Args:
        atoms: structure in Å: ASE ``Atoms``, pymatgen ``Structure``, AiiDA
            ``StructureData`` or a file (:func:`rhocat.structures.convert.to_atoms`).
        family, protocol, overrides: see :func:`rhocat.qe.inputs.pw_parameters`.
        start: ``"atomic"``, ``"acs"`` or a folder with ``charge-density.dat``. A folder
            rhocat predicted gets the ``diago_thr_init`` and ``startingwfc`` its record
            asks for (:func:`recorded_warm_settings`; the shipped model's: 1e-2 and
            'atomic') unless ``overrides`` or ``parameters`` set them; any other folder (a
            converged run's) keeps pw.x's own file default, 1e-5, and 'atomic+random'.
        calculation: ``scf``, ``relax`` or ``vc-relax``.
        workdir: where to run (kept); a new temporary folder when None (kept when
            pw.x ran, since the result points into it; removed when the run stops
            before pw.x finishes, by bad input or an interrupt).
        ranks: MPI ranks (default: ``$RHOCAT_RANKS`` or the cores, at most 4), >= 1.
        timeout_s: wall-clock limit (s, > 0); a run past it is a non-converged result.
            None: no limit (:func:`default_timeout_s` is the CLI's default).
        parameters: namelists of an earlier run to reuse *exactly* (e.g. the
            ground-truth run of a dataset entry); only ``startingpot``, ``outdir``,
            ``prefix`` and ``pseudo_dir`` are replaced.
        min_distance_ratio: refuse atoms closer than this share of the sum of their
            covalent radii (0: no check); see :mod:`rhocat.structure_checks`.
        on_line: called with each line of pw.x's output as it is written
            (:class:`rhocat.qe.parse.LiveHistory` turns them into SCF iterations).
    """
    check_run_options(ranks, timeout_s)
    if not isinstance(atoms, Atoms):  # pymatgen Structure, AiiDA StructureData, a file
        from rhocat.structures.convert import to_atoms

        atoms = to_atoms(atoms)
    check_bulk(atoms, min_distance_ratio)
    family = load_family(family)
    family.require(atoms.get_chemical_symbols())
    startingpot = "atomic" if str(start) == "atomic" else "file"
    if parameters is not None:
        import copy

        params = copy.deepcopy(dict(parameters))
        params.setdefault("control", {}).update(
            prefix=PREFIX, outdir=f"./{OUTDIR}", pseudo_dir="./pseudo"
        )
        params.setdefault("electrons", {})["startingpot"] = startingpot
        if overrides:
            from rhocat.qe.inputs import apply_overrides

            apply_overrides(params, overrides)
    else:
        params = pw_parameters(
            atoms,
            family,
            protocol,
            calculation=calculation,
            startingpot=startingpot,
            prefix=PREFIX,
            outdir=f"./{OUTDIR}",
            pseudo_dir="./pseudo",
            overrides=overrides,
        )
    if str(start) == "acs":
        # pw.x starts a file density with a 1e-5 first diagonalization threshold but the
        # atomic one with 1e-2; the same threshold makes "acs" reproduce "atomic" exactly.
        params["electrons"].setdefault("diago_thr_init", ATOMIC_DIAGO_THR_INIT)
    else:
        for key, value in recorded_warm_settings(start).items():
            params["electrons"].setdefault(key, value)
    temporary = workdir is None
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="rhocat-pw-"))
    try:
        workdir = make_workdir(workdir)
        _link_pseudos(family, atoms.get_chemical_symbols(), workdir / "pseudo")
        save = save_dir_of(workdir)
        if save.exists():
            shutil.rmtree(save)
        if startingpot == "file":
            _stage_restart(start, atoms, family, save, params)
        text = render_pw_input(atoms, params, family)
        raw = run_pw(text, workdir, ranks=ranks, timeout_s=timeout_s, on_line=on_line)
    except BaseException:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    failure = ""
    if raw.timed_out:
        failure = f"timed out after {timeout_s} s"
    elif raw.returncode != 0:
        failure = f"pw.x exited with code {raw.returncode}"
    result = result_from_output(
        raw.stdout,
        save,
        atoms=atoms,
        family=family,
        parameters=to_jsonable(params),
        start=str(start),
        workdir=workdir,
        wall_s=raw.wall_s,
        failure=failure,
        read_final_structure=calculation in ("relax", "vc-relax"),
    )
    result.timeout_s = timeout_s
    return result


def make_workdir(workdir: Path) -> Path:
    """Create the run folder, or :class:`InputError` in one line when it cannot be."""
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        probe = workdir / ".rhocat-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot use {workdir} as the pw.x run folder: {reason}") from None
    return workdir


def unused_start(start: str, hist: ScfHistory) -> str:
    """Why a run asked to start from a file did not ("" when it did, or started from atoms).

    pw.x 6.7 falls back to a uniform charge, silently but for one line, when it cannot
    use ``charge-density.dat``: such a run is not the warm start it claims to be.
    """
    if str(start) == "atomic" or hist.initial_density != "uniform":
        return ""
    return (
        f"pw.x did not use the start density ({start}): it could not read it and "
        "started from a uniform charge"
    )


def pw_failure_reason(stdout: str, hist: ScfHistory) -> str:
    """Why a pw.x run did not give a converged SCF, from its stdout ("" when it did)."""
    if "convergence NOT achieved" in stdout:
        return f"SCF did not converge in {hist.iterations} iterations"
    if hist.error:
        return f"pw.x stopped: {hist.error}"
    if not hist.finished:
        return "pw.x output is incomplete" if stdout else "no pw.x output"
    if not hist.converged:
        return f"SCF did not converge in {hist.iterations} iterations"
    return ""


def result_from_output(
    stdout: str,
    save: Path | None,
    *,
    atoms: Atoms,
    family: PseudoFamily,
    parameters: dict,
    start: str,
    workdir: str | os.PathLike,
    wall_s: float,
    failure: str = "",
    final_atoms: Atoms | None = None,
    read_final_structure: bool = False,
    require_density: bool = False,
) -> ScfResult:
    """An :class:`ScfResult` from what a pw.x run left: its stdout and its ``.save`` folder.

    Shared by the local runner and the AiiDA engine. ``failure`` is the engine's own
    reason (timeout, exit code, process state), put before pw.x's; ``wall_s`` is the
    engine's wall time (s). With ``read_final_structure`` the relaxed structure is read
    from the XML; with ``require_density`` a missing ``charge-density.dat`` is a failure.
    """
    hist = parse_stdout(stdout)
    xml = None
    if save is not None and (save / "data-file-schema.xml").is_file() and hist.finished:
        try:
            xml = parse_xml(save / "data-file-schema.xml")
        except (ValueError, OSError, KeyError, AttributeError):
            xml = None
    reason = "; ".join(
        r for r in (failure, pw_failure_reason(stdout, hist), unused_start(start, hist)) if r
    )
    has_density = save is not None and (save / "charge-density.dat").is_file()
    if require_density and not has_density and not reason:
        reason = "charge-density.dat was not retrieved"
    if read_final_structure and xml is not None and xml.cell_bohr is not None:
        final_atoms = Atoms(
            symbols=xml.symbols,
            positions=xml.positions_bohr * BOHR_ANGSTROM,
            cell=xml.cell_bohr * BOHR_ANGSTROM,
            pbc=True,
        )
    symbols = sorted(set(atoms.get_chemical_symbols()))
    return ScfResult(
        converged=hist.converged and not reason,
        iterations=hist.iterations,
        scf_accuracy_ry=hist.scf_accuracy_ry,
        energies_ry=hist.energies_ry,
        energy_ry=(xml.energy_ry if xml and xml.energy_ry is not None else hist.energy_ry),
        fermi_energy_ev=(xml.fermi_energy_ev if xml else hist.fermi_energy_ev),
        band_gap_ev=(xml.band_gap_ev if xml else None),
        n_electrons=(xml.n_electrons if xml else hist.n_electrons),
        fft_grid=(xml.fft_grid if xml and xml.fft_grid else hist.fft_grid),
        wall_s=wall_s,
        pw_wall_s=hist.pw_wall_s,
        reason=reason,
        output_tail="\n".join(stdout.splitlines()[-25:]),
        save_dir=str(save) if has_density else None,
        workdir=str(workdir),
        parameters=parameters,
        start=start,
        qe_version=hist.qe_version,
        pseudos={s: {"file": family[s].filename, "md5": family[s].md5} for s in symbols},
        final_atoms=final_atoms,
        initial_density=hist.initial_density,
    )
