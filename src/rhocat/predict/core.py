"""A predicted start density for pw.x, from a structure, pseudopotentials and a model.

ρ_start(G) = ρ_ACS(G) + Δρ_model(G) on pw.x's own G list (from the cell and the
protocol's density cutoff), then:

1. negative values: in real space, the prediction may not go below
   min(ρ_ACS(r), 0); points where it does are raised to that floor (the ACS
   itself, ringing included, is left as pw.x builds it, so a zero model gives
   back exactly the ACS);
2. the density is scaled to the exact number of valence electrons when it is
   off by more than 1e-7 relative, as pw.x does for its own atomic start
   (so a zero model reproduces pw.x's start bit for bit).

Nothing of a reference run is read here: :mod:`rhocat.predict` never opens a
dataset.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from rhocat import interrupts
from rhocat.errors import InputError, ModelError
from rhocat.fileio import (
    atomic_dir,
    atomic_path,
    atomic_write_json,
    check_output_dir,
    remove_stale_temporaries,
)
from rhocat.qe.resources import check_density_memory
from rhocat.qe.save import PREDICTION_RECORD
from rhocat.structure_checks import MIN_DISTANCE_RATIO, check_bulk
from rhocat.units import BOHR_PER_ANGSTROM

#: Relative charge error below which the density is left as is (pw.x's own rule in potinit).
RENORM_TOL = 1e-7
#: Written next to the restart files: how the prediction was made.
PREDICTION_JSON = PREDICTION_RECORD  # the name this module has always used
#: The files of a prediction folder (others in an output folder make predict refuse it).
KNOWN_FILES = frozenset({"charge-density.dat", "paw.txt", PREDICTION_JSON})
#: Key of a model's ``metadata`` (its card) holding the first diagonalization threshold
#: chosen for its warm starts on validation cells (``benchmarks/first_threshold.py``).
FIRST_THRESHOLD_KEY = "warm_diago_thr_init"
#: ... and pw.x's ``startingwfc`` chosen the same way (absent: pw.x's own 'atomic+random').
STARTINGWFC_KEY = "warm_startingwfc"
#: ... and whose PAW on-site occupations go with the predicted density: ``"model"`` (the
#: model's, shrunk by the ensemble's s; also when absent) or ``"atomic"``.
OCCUPATIONS_KEY = "warm_occupations"
#: The values :data:`OCCUPATIONS_KEY` may take.
OCCUPATIONS_VALUES = ("model", "atomic")


def first_threshold(model, fallback: bool = False) -> float:
    """pw.x's first diagonalization threshold (``diago_thr_init``) for a start ``model``
    predicted: the ACS's own 1e-2 when the start fell back to the ACS (``fallback``: it then
    replays pw.x's atomic start), else the value on the model's card
    (``metadata[FIRST_THRESHOLD_KEY]``), else pw.x's own for a density read from file,
    1e-5. The better value depends on the model: the shipped one slowed no validation cell
    at 1e-2 and one at 1e-5, a weaker one five at 1e-2 and three at 1e-5
    (docs/scf-starts.md), so a model nobody measured keeps pw.x's.
    """
    from rhocat.qe.scf import ATOMIC_DIAGO_THR_INIT, FILE_DIAGO_THR_INIT

    if fallback:
        return ATOMIC_DIAGO_THR_INIT
    value = (getattr(model, "metadata", None) or {}).get(FIRST_THRESHOLD_KEY)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return FILE_DIAGO_THR_INIT


def warm_startingwfc(model, fallback: bool = False) -> str | None:
    """pw.x's ``startingwfc`` for a start ``model`` predicted: the value on the model's card
    (``metadata[STARTINGWFC_KEY]``), else None (pw.x's own 'atomic+random'); None too when
    the start fell back to the ACS, which then replays pw.x's atomic start. The shipped
    model's card names 'atomic': on the 52 validation cells its warm starts needed 719.3
    iterations with it against 723.0 and slowed 1 cell against 3 (docs/scf-starts.md §4).
    """
    from rhocat.qe.scf import STARTINGWFC_VALUES

    if fallback:
        return None
    value = (getattr(model, "metadata", None) or {}).get(STARTINGWFC_KEY)
    return value if value in STARTINGWFC_VALUES else None


def warm_occupations(model) -> str:
    """Whose PAW occupations a warm start of ``model`` hands pw.x: ``"atomic"`` when the
    model's card says so (``metadata[OCCUPATIONS_KEY]``), else ``"model"``. Atomic ones
    are QE's ``PAW_atomic_becsum`` without its random noise; they are chosen on the card
    where validation SCF runs found the model's own occupations less steady
    (docs/scf-starts.md §7)."""
    value = (getattr(model, "metadata", None) or {}).get(OCCUPATIONS_KEY)
    return value if value in OCCUPATIONS_VALUES else "model"


@dataclass
class PredictionResult:
    """Plain-data outcome of one prediction (JSON-ready with :meth:`to_dict`).

    Attributes:
        name: label of the structure (file stem or given name).
        restart_dir: folder with ``charge-density.dat`` (+ ``paw.txt``) for pw.x.
        formula: chemical formula.
        n_electrons: valence electrons the density integrates to (exact).
        n_electrons_raw: ∫(ρ_ACS + Δρ) before clipping and scaling.
        negative_fraction: share of real-space grid points where ρ_ACS + Δρ < 0.
        clipped_fraction: share of points raised to the floor min(ρ_ACS, 0).
        clipped_charge: electrons added by raising them (before scaling).
        becsum_source: ``"model"``, ``"atomic"`` (the card's choice,
            :func:`warm_occupations`), ``"atomic-fallback"`` or ``"none"`` (no PAW species).
        ecutrho_ry: density cutoff of the G list, Ry.
        ngm: number of G vectors.
        fft_grid: real-space grid used for the checks and exports.
        inference_s: seconds spent in the model (Δρ and occupations).
        total_s: seconds for the whole prediction (ACS, model, files).
        cube, xsf: exported files, or None.
        requirements: what the density was built for and the pw.x lines that must
            match (``assumed``, ``pw_input``; see :mod:`rhocat.predict.pwinput`).
        uncertainty: an ensemble's disagreement u on this structure (relative Hartree
            spread of its members, :mod:`rhocat.models.ensemble`); None for single models.
        shrink: the factor s = 1/(1 + c u²) applied to the ensemble's mean Δρ (and to
            the predicted PAW occupations' departure from the atomic ones); None for
            single models.
        fallback: why the model's correction was not used (the start is the ACS), or None.
        diago_thr_init: the first diagonalization threshold pw.x should start this
            density with (:func:`first_threshold`), also in ``requirements``.
        startingwfc: pw.x's ``startingwfc`` for this start (:func:`warm_startingwfc`),
            None for pw.x's own; also in ``requirements`` when set.
    """

    name: str
    restart_dir: str
    formula: str
    n_electrons: float
    n_electrons_raw: float
    negative_fraction: float
    clipped_fraction: float
    clipped_charge: float
    becsum_source: str
    ecutrho_ry: float
    ngm: int
    fft_grid: tuple[int, int, int]
    inference_s: float
    total_s: float
    cube: str | None = None
    xsf: str | None = None
    requirements: dict | None = None
    uncertainty: float | None = None
    shrink: float | None = None
    fallback: str | None = None
    diago_thr_init: float | None = None
    startingwfc: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fft_grid"] = list(self.fft_grid)
        return d


# -- the model, whatever its class ------------------------------------------------------
def _arrays(atoms: Atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.asarray(atoms.numbers, dtype=np.int64),
        atoms.positions * BOHR_PER_ANGSTROM,
        atoms.cell.array * BOHR_PER_ANGSTROM,
    )


def model_prediction(
    model, atoms: Atoms, miller: np.ndarray, fft_grid: Sequence[int] | None = None
) -> tuple[np.ndarray, dict]:
    """(Δρ(G) as :func:`model_delta_rho_g`, info): an ensemble adds its ``uncertainty``,
    ``shrink`` and ``members`` to ``info``. Δρ is set to 0 beyond the density cutoff the
    model was trained within (metadata ``train_ecutrho_ry``, then in ``info``): there the
    start is the ACS."""
    from rhocat.models.ensemble import EnsembleModel
    from rhocat.qe.gvectors import g_cartesian

    numbers, pos, cell = _arrays(atoms)
    g = g_cartesian(cell, miller)  # 1/bohr, once for the ensemble and the cutoff mask
    if not isinstance(model, EnsembleModel):
        delta, info = model_delta_rho_g(model, atoms, miller, fft_grid), {}
    else:
        pred = model.predict(numbers, pos, cell, g)
        delta, info = _checked_delta(pred.delta_rho_g, miller), pred.info()
    trained = (getattr(model, "metadata", None) or {}).get("train_ecutrho_ry")
    if trained:  # beyond the sphere it was trained on, a model is unconstrained: keep the ACS
        beyond = np.einsum("ij,ij->i", g, g) > float(trained) * (1.0 + 1e-9)
        delta[beyond] = 0.0
        info["delta_ecutrho_ry"] = float(trained)
    return delta, info


def model_delta_rho_g(
    model, atoms: Atoms, miller: np.ndarray, fft_grid: Sequence[int] | None = None
) -> np.ndarray:
    """(ngm,) complex Δρ(G) in e/bohr³ of ``model`` for ``atoms`` on Miller indices ``miller``.

    A :class:`rhocat.models.DensityModel` goes through
    :func:`rhocat.models.predict_delta_rho_g` (any kind, ``fft_grid`` for the
    pointwise model); any other object must offer
    ``delta_rho_g(numbers, positions_bohr, cell_bohr, g_cart)``. Δρ(G=0) is set to 0.
    """
    from rhocat.models import DensityModel, predict_delta_rho_g
    from rhocat.qe.gvectors import g_cartesian

    numbers, pos, cell = _arrays(atoms)
    if isinstance(model, DensityModel):
        grid = tuple(int(n) for n in fft_grid) if fft_grid is not None else None
        delta = predict_delta_rho_g(model, numbers, pos, cell, miller, fft_grid=grid)
    else:
        delta = model.delta_rho_g(numbers, pos, cell, g_cartesian(cell, miller))
    return _checked_delta(delta, miller)


def _checked_delta(delta, miller: np.ndarray) -> np.ndarray:
    """A model's Δρ(G) as (ngm,) complex128 e/bohr³ with Δρ(G=0) = 0 (charge conserved);
    ModelError when it has not one value per G vector or holds non-finite values."""
    delta = np.asarray(delta, dtype=np.complex128).reshape(-1)
    if delta.shape[0] != len(miller):
        raise ModelError(f"the model returned {delta.shape[0]} values for {len(miller)} G vectors")
    if not np.all(np.isfinite(delta)):
        raise ModelError("the model returned non-finite density values")
    delta[~np.asarray(miller).any(axis=1)] = 0.0
    return delta


def model_becsum(model, atoms: Atoms, family):
    """PAW occupations from the model, or the atomic ones with a warning.

    The model's occupations come from :func:`rhocat.models.predict_becsum`
    (or a ``predict_becsum(numbers, positions_bohr, cell_bohr)`` method of a
    non-rhocat model): an array (nat, nij) or (nspin, nat, nij) in pw.x's
    packed layout, or None.

    Returns:
        (becsum or None, source) with source ``"model"``, ``"atomic-fallback"``
        or ``"none"`` (no PAW species: pw.x needs no occupations).
    """
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.paw import Becsum

    symbols = set(atoms.get_chemical_symbols())
    if not any(family[s].kind == "PAW" for s in symbols):
        return None, "none"
    numbers, pos, cell = _arrays(atoms)
    from rhocat.models import DensityModel, predict_becsum

    values = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one warning below says it all
        if isinstance(model, DensityModel):
            values = predict_becsum(model, numbers, pos, cell)
        elif callable(getattr(model, "predict_becsum", None)):
            values = model.predict_becsum(numbers, pos, cell)
    atomic = atomic_becsum(atoms, family)
    if values is not None:
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape != atomic.values.shape:
            raise ModelError(
                f"the model's PAW occupations have shape {arr.shape}, pw.x expects "
                f"{atomic.values.shape}"
            )
        return Becsum(arr), "model"
    warnings.warn(
        "the model predicts no PAW on-site occupations: using atomic ones "
        "(becsum_source = atomic-fallback); a PAW warm start may then need more iterations",
        stacklevel=4,  # the caller of predict_restart
    )
    return atomic, "atomic-fallback"


def cutoff_fallback(model, symbols, family, ecutrho_ry: float) -> str | None:
    """Why the model's correction must not be used at this cutoff, or None.

    ``predict/data/cutoff_transfer.json`` lists, per pseudopotential family, elements
    whose correction learned at the training cutoff was measured to hurt at higher ones
    (Cr in ``debian-pbe``); a structure containing one, run at a density cutoff above the
    model's ``train_ecutrho_ry`` (by more than the tolerance), falls back to the ACS.
    """
    import json
    from importlib import resources

    trained = (getattr(model, "metadata", None) or {}).get("train_ecutrho_ry")
    if not trained:
        return None
    text = resources.files("rhocat.predict").joinpath("data/cutoff_transfer.json").read_text()
    rule = json.loads(text)["families"].get(getattr(family, "name", str(family)))
    if rule is None or ecutrho_ry <= float(trained) * (1.0 + rule["tolerance"]):
        return None
    bad = sorted(set(symbols) & set(rule["exclude"]))
    if not bad:
        return None
    return (
        f"the model's correction for {', '.join(bad)} was learned at ecutrho "
        f"{float(trained):g} Ry and measured not to transfer to {ecutrho_ry:g} Ry"
    )


def shrink_becsum(becsum, atoms: Atoms, family, shrink: float):
    """Occupations pulled toward the atomic ones by the density's shrink factor s:
    atomic + s (predicted − atomic), so that density and occupations stay consistent."""
    from rhocat.qe.acs import atomic_becsum
    from rhocat.qe.paw import Becsum

    atomic = atomic_becsum(atoms, family)
    return Becsum(atomic.values + float(shrink) * (becsum.values - atomic.values))


# -- density post-processing ------------------------------------------------------------
def constrain_density(
    rho_acs_g: np.ndarray,
    delta_g: np.ndarray,
    miller: np.ndarray,
    cell_bohr: np.ndarray,
    fft_grid: Sequence[int],
    n_electrons: float,
) -> tuple[np.ndarray, dict]:
    """ρ = ρ_ACS + Δρ, floored at min(ρ_ACS, 0) in real space and scaled to ``n_electrons``.

    Args:
        rho_acs_g, delta_g: (ngm,) complex, e/bohr³.
        miller: (ngm, 3) Miller indices.
        cell_bohr: (3, 3) lattice vectors, bohr.
        fft_grid: real-space grid holding every G of the list.
        n_electrons: exact valence electron count.

    Returns:
        (ρ(G) (ngm,) complex e/bohr³, stats dict with ``n_electrons_raw``,
        ``negative_fraction``, ``clipped_fraction``, ``clipped_charge``).
        When nothing is clipped, ρ(G) is (ρ_ACS + Δρ)·scale exactly (no FFT round trip);
        scale is 1 when the count is already right within :data:`RENORM_TOL`.
    """
    from rhocat.qe.density import from_grid

    miller = np.asarray(miller)
    volume = float(abs(np.linalg.det(cell_bohr)))
    zero = np.flatnonzero(~miller.any(axis=1))
    if zero.size != 1:
        raise InputError("the G list must hold G = 0 exactly once")
    rho_g = np.asarray(rho_acs_g, dtype=np.complex128) + np.asarray(delta_g, dtype=np.complex128)
    n_raw = float(rho_g[zero[0]].real * volume)
    shape = tuple(int(n) for n in fft_grid)
    rho_r = _grid(rho_g, miller, shape)
    negative = rho_r < 0.0
    stats = {"n_electrons_raw": n_raw, "negative_fraction": float(np.mean(negative))}
    clipped_fraction = 0.0
    clipped_charge = 0.0
    if negative.any():
        floor = np.minimum(_grid(np.asarray(rho_acs_g, dtype=np.complex128), miller, shape), 0.0)
        below = rho_r < floor
        if below.any():
            clipped_fraction = float(np.mean(below))
            clipped_charge = float(np.sum(floor[below] - rho_r[below]) * volume / rho_r.size)
            rho_r = np.where(below, floor, rho_r)
            rho_g = from_grid(rho_r, miller)[0]
    stats.update(clipped_fraction=clipped_fraction, clipped_charge=clipped_charge)
    total = float(rho_g[zero[0]].real * volume)
    if total <= 0:
        raise ModelError(f"the predicted density holds {total:.3g} electrons: unusable")
    if abs(total - n_electrons) > RENORM_TOL * total:
        rho_g = rho_g * (n_electrons / total)
    return rho_g, stats


def _grid(rho_g: np.ndarray, miller: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Real-space ρ(r) (n1, n2, n3) of a full G list, e/bohr³."""
    from rhocat.qe.fft import g_to_grid

    return g_to_grid(rho_g, miller, shape)


# -- files ------------------------------------------------------------------------------
#: Name of the temporary folder a prediction is built in inside an existing output folder.
_INNER_TMP = ".prediction"


def _check_out_dir(out_dir: Path, overwrite: bool = False) -> None:
    if out_dir.is_dir():
        remove_stale_temporaries(out_dir / _INNER_TMP)
    check_output_dir(out_dir, force=overwrite, replaced=", ".join(sorted(KNOWN_FILES)))


def export_grid(
    path: str | os.PathLike, atoms: Atoms, rho_r: np.ndarray, fmt: str | None = None
) -> Path:
    """Write ρ(r) as Gaussian cube (e/bohr³) or XSF (e/Å³) for VESTA; atomic write.

    Args:
        path: ``.cube`` or ``.xsf`` file.
        atoms: the structure (Å).
        rho_r: (n1, n2, n3) density in e/bohr³ on the grid r = (i/n1, j/n2, k/n3)·cell.
        fmt: ``"cube"`` or ``"xsf"`` (default: from the suffix).
    """
    import ase.io

    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    if fmt not in ("cube", "xsf"):
        raise InputError(f"{path}: export format must be cube or xsf, not {fmt!r}")
    data = rho_r if fmt == "cube" else rho_r * BOHR_PER_ANGSTROM**3
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        ase.io.write(fh, atoms, format=fmt, data=data)
    return path


# -- the public API ---------------------------------------------------------------------
def predict_restart(
    model,
    atoms: Atoms | Any,
    *,
    family="debian-pbe",
    protocol="fast",
    out_dir: str | os.PathLike,
    allow_unseen: bool = False,
    overrides: Mapping | None = None,
    ecutrho_ry: float | None = None,
    cube: str | os.PathLike | None = None,
    xsf: str | os.PathLike | None = None,
    name: str | None = None,
    min_distance_ratio: float = MIN_DISTANCE_RATIO,
    progress: bool = False,
    overwrite: bool = False,
) -> PredictionResult:
    """Write the predicted start density of ``atoms`` as a restart folder for pw.x.

    Args:
        model: a density model (``delta_rho_g(numbers, positions_bohr, cell_bohr,
            g_cart)``, ``check_elements(symbols, allow_unseen)``; optional
            ``predict_becsum(atoms, family)`` for PAW occupations).
        atoms: the structure (Å, periodic): ASE ``Atoms``, pymatgen ``Structure``,
            AiiDA ``StructureData`` or a structure file
            (:func:`rhocat.structures.convert.to_atoms`).
        family: pseudopotential family (name, directory or object).
        protocol: protocol name or object; with ``overrides`` it fixes the density
            cutoff exactly as :func:`rhocat.qe.scf.run_scf` will.
        out_dir: the folder to write (``charge-density.dat``, ``paw.txt`` for PAW
            species, ``prediction.json``); replaced atomically.
        allow_unseen: predict for elements the model never saw (with a warning).
        ecutrho_ry: density cutoff in Ry, when the run to start uses a given one
            (default: from the family, protocol and overrides).
        cube, xsf: optional exports of ρ(r) (cube in e/bohr³, XSF in e/Å³).
        name: label of the structure in the result.
        min_distance_ratio: refuse atoms closer than this share of the sum of their
            covalent radii (0: no check); see :mod:`rhocat.structure_checks`.
        progress: on a large cell, say on stderr what is computed (G vectors, grid,
            memory).
        overwrite: replace the restart files of a folder that is not empty (other
            files in it are left alone); without it such a folder is refused
            (:func:`rhocat.fileio.check_output_dir`, the rule of ``rhocat acs`` too).

    Raises:
        ModelError: the model does not know an element of the structure.
        PseudoError: the family lacks an element.
        InputError: ``out_dir`` holds foreign files; a non-periodic structure.
    """
    from rhocat.qe.acs import acs_rho_g
    from rhocat.qe.density import ChargeDensity
    from rhocat.qe.gvectors import miller_indices
    from rhocat.qe.save import write_restart_files
    from rhocat.qe.start import cell_bohr as qe_cell_bohr
    from rhocat.qe.start import reciprocal_b

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    atoms, family = _checked_inputs(
        model,
        atoms,
        family,
        out_dir,
        overwrite=overwrite,
        allow_unseen=allow_unseen,
        min_distance_ratio=min_distance_ratio,
    )
    ecutrho_ry, ecutwfc_ry = _cutoffs(atoms, family, protocol, overrides, ecutrho_ry)
    cell = qe_cell_bohr(atoms)  # pw.x's bohr: the G list must be exactly pw.x's
    what = f"predict {name or atoms.get_chemical_formula()}"
    cost = check_density_memory(cell, ecutrho_ry, len(atoms), what, progress=progress)
    miller = miller_indices(cell, ecutrho_ry)
    shape = cost.fft_grid  # fft_grid_shape(cell, ecutrho_ry), computed once
    rho_acs = np.asarray(acs_rho_g(atoms, family, miller), dtype=np.complex128).reshape(-1)
    t_model = time.perf_counter()
    model_part = _model_start(model, atoms, family, miller, shape, float(ecutrho_ry))
    delta, info, becsum, becsum_source = model_part
    inference_s = time.perf_counter() - t_model
    n_el = float(sum(family[s].z_valence for s in atoms.get_chemical_symbols()))
    rho_g, stats = constrain_density(rho_acs, delta, miller, cell, shape, n_el)
    result = PredictionResult(
        name=name or atoms.get_chemical_formula(),
        restart_dir=str(out_dir),
        formula=atoms.get_chemical_formula(),
        n_electrons=n_el,
        **stats,
        becsum_source=becsum_source,
        ecutrho_ry=float(ecutrho_ry),
        ngm=int(len(miller)),
        fft_grid=shape,
        inference_s=inference_s,
        total_s=0.0,  # set once the files are written
        uncertainty=info.get("uncertainty"),
        shrink=info.get("shrink"),
        fallback=info.get("fallback"),
        diago_thr_init=first_threshold(model, fallback=bool(info.get("fallback"))),
        startingwfc=warm_startingwfc(model, fallback=bool(info.get("fallback"))),
    )
    density = ChargeDensity(miller=miller, rho_g=rho_g[None, :], b=reciprocal_b(atoms))
    with atomic_dir(out_dir, replaces=KNOWN_FILES, inner=_INNER_TMP) as tmp:
        write_restart_files(tmp, density, becsum)
        result.cube, result.xsf = _exports(atoms, rho_g, miller, shape, cube, xsf)
        result.total_s = time.perf_counter() - t0
        result.requirements = _requirements(
            atoms, family, ecutrho_ry, ecutwfc_ry, shape, out_dir, result
        )
        atomic_write_json(tmp / PREDICTION_JSON, result.to_dict())
        interrupts.complete()  # an interrupt from here on does not undo the prediction
    return result


def _checked_inputs(
    model,
    atoms,
    family,
    out_dir: Path,
    *,
    overwrite: bool,
    allow_unseen: bool,
    min_distance_ratio: float,
) -> tuple[Atoms, Any]:
    """(ASE Atoms, loaded family) once every check a prediction needs has passed: the
    output folder (:func:`rhocat.fileio.check_output_dir`), a 3-D periodic cell without
    atoms too close, the family's files for each element, the model's elements and
    pseudopotential md5s."""
    from rhocat.qe.pseudo import load_family

    if not isinstance(atoms, Atoms):  # pymatgen Structure, AiiDA StructureData, a file
        from rhocat.structures.convert import to_atoms

        atoms = to_atoms(atoms)
    _check_out_dir(out_dir, overwrite)
    if not all(atoms.pbc) or atoms.cell.rank != 3:
        raise InputError("predict needs a 3-D periodic structure (bulk cell)")
    check_bulk(atoms, min_distance_ratio)
    family = load_family(family)
    symbols = atoms.get_chemical_symbols()
    family.require(symbols)
    check = getattr(model, "check_elements", None)
    if check is not None:
        check(symbols, allow_unseen=allow_unseen)
    check_pseudos = getattr(model, "check_pseudos", None)
    if check_pseudos is not None:
        check_pseudos(family.md5s(symbols))
    return atoms, family


def _cutoffs(
    atoms: Atoms, family, protocol, overrides: Mapping | None, ecutrho_ry: float | None
) -> tuple[float, float | None]:
    """(ecutrho, ecutwfc) in Ry: ``ecutrho_ry`` when given (ecutwfc then None), else those
    :func:`rhocat.qe.scf.run_scf` will use for this family, protocol and overrides."""
    if ecutrho_ry is not None:
        return ecutrho_ry, None
    from rhocat.qe.inputs import pw_parameters

    params = pw_parameters(atoms, family, protocol, overrides=overrides)
    return float(params["system"]["ecutrho"]), float(params["system"]["ecutwfc"])


def _start_becsum(model, atoms: Atoms, family, shrink: float | None):
    """The PAW occupations of a warm start and their source: the atomic ones where the
    card asks for them (:func:`warm_occupations`), else the model's, pulled toward the
    atomic ones by an ensemble's ``shrink`` factor s (None: not an ensemble)."""
    from rhocat.qe.acs import atomic_becsum

    if warm_occupations(model) == "atomic":
        atomic = atomic_becsum(atoms, family)
        return atomic, ("atomic" if atomic is not None else "none")
    becsum, source = model_becsum(model, atoms, family)
    if becsum is not None and source == "model" and shrink is not None:
        becsum = shrink_becsum(becsum, atoms, family, shrink)
    return becsum, source


def _model_start(model, atoms: Atoms, family, miller: np.ndarray, shape, ecutrho_ry: float):
    """The model's part of the start: (Δρ(G) e/bohr³, info, PAW occupations or None, their
    source). An ensemble's shrink factor also pulls predicted occupations toward the
    atomic ones; a card that asks for atomic occupations (:func:`warm_occupations`) gets
    them; where :func:`cutoff_fallback` says the correction does not transfer to
    ``ecutrho_ry``, Δρ is 0 and the occupations are atomic (the start pw.x makes itself).
    """
    delta, info = model_prediction(model, atoms, miller, shape)
    becsum, becsum_source = _start_becsum(model, atoms, family, info.get("shrink"))
    why_not = cutoff_fallback(model, atoms.get_chemical_symbols(), family, ecutrho_ry)
    if why_not:  # the start pw.x would make itself: ACS density, atomic occupations
        warnings.warn(f"{why_not}: the start is the ACS", stacklevel=3)
        delta = np.zeros_like(delta)
        info.update(shrink=0.0, fallback=why_not)
        if becsum is not None:
            from rhocat.qe.acs import atomic_becsum

            becsum, becsum_source = atomic_becsum(atoms, family), "atomic-fallback"
    return delta, info, becsum, becsum_source


def _exports(atoms: Atoms, rho_g, miller, shape, cube, xsf) -> tuple[str | None, str | None]:
    """Write ρ(r) to the ``cube`` and ``xsf`` paths asked for; returns (cube, xsf) paths."""
    if cube is None and xsf is None:
        return None, None
    rho_r = _grid(rho_g, miller, shape)
    cube_path = str(export_grid(cube, atoms, rho_r, "cube")) if cube is not None else None
    xsf_path = str(export_grid(xsf, atoms, rho_r, "xsf")) if xsf is not None else None
    return cube_path, xsf_path


def _requirements(
    atoms, family, ecutrho_ry, ecutwfc_ry, shape, out_dir: Path, result: PredictionResult
) -> dict:
    """What the density was built for and the pw.x lines that must match
    (:func:`rhocat.predict.pwinput.run_requirements`), with ``result``'s recommended first
    threshold and ``startingwfc``."""
    from rhocat.predict.pwinput import run_requirements

    return run_requirements(
        atoms,
        family,
        ecutrho_ry=ecutrho_ry,
        ecutwfc_ry=ecutwfc_ry,
        fft_grid=shape,
        restart_dir=out_dir,
        diago_thr_init=result.diago_thr_init,
        startingwfc=result.startingwfc,
    )


def predict_many(
    model,
    structures: Iterable[tuple[str, Atoms | Any]],
    out_dir: str | os.PathLike,
    *,
    family="debian-pbe",
    protocol="fast",
    allow_unseen: bool = False,
    overrides: Mapping | None = None,
    cube: bool = False,
    xsf: bool = False,
    progress: bool = False,
    min_distance_ratio: float = MIN_DISTANCE_RATIO,
    overwrite: bool = False,
) -> list[PredictionResult]:
    """Predict restarts for many structures with one loaded model: ``out_dir/<name>/``.

    Names must be unique; cube/XSF exports go to ``out_dir/<name>.cube`` / ``.xsf``.
    Stops at the first structure the model cannot handle (nothing half-written).
    ``min_distance_ratio``: as :func:`predict_restart`.
    """
    from rhocat.qe.pseudo import load_family

    items = list(structures)
    if not all(isinstance(a, Atoms) for _, a in items):  # pymatgen, AiiDA, files
        from rhocat.structures.convert import to_atoms

        items = [(n, to_atoms(a, copy=False)) for n, a in items]
    names = [n for n, _ in items]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"two structures share the name(s) {', '.join(dup)}")
    family = load_family(family)
    for name, atoms in items:  # check every structure before writing anything
        try:
            check_bulk(atoms, min_distance_ratio)
        except InputError as exc:
            raise InputError(f"{name}: {exc}") from None
        _check_out_dir(Path(out_dir) / name, overwrite)
        family.require(atoms.get_chemical_symbols())
        check = getattr(model, "check_elements", None)
        if check is not None:
            check(atoms.get_chemical_symbols(), allow_unseen=allow_unseen)
    out = Path(out_dir)
    it = items
    if progress:
        from tqdm import tqdm

        it = tqdm(items, desc="predict", unit="structure")
    results = []
    for name, atoms in it:
        results.append(
            predict_restart(
                model,
                atoms,
                family=family,
                protocol=protocol,
                out_dir=out / name,
                allow_unseen=allow_unseen,
                overrides=overrides,
                cube=(out / f"{name}.cube") if cube else None,
                xsf=(out / f"{name}.xsf") if xsf else None,
                name=name,
                min_distance_ratio=min_distance_ratio,
                progress=progress,
                overwrite=overwrite,
            )
        )
    return results
