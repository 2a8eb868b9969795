"""Fitting the PAW occupation model (:mod:`rhocat.models.becsum`) on converged runs.

:func:`fit_occupation_model` takes the training samples whose metadata hold pw.x's
converged on-site occupations (``meta['paw']['becsum']``), reads each element's
projector layout and atomic occupations from the UPF files of the dataset's
pseudopotential family, and fits a :class:`~rhocat.models.becsum.BecsumModel`.
:func:`rhocat.train.train_model` calls it for every density model it trains.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from rhocat.errors import InputError, ModelError
from rhocat.models.becsum import BecsumModel, SpeciesLayout, fit_becsum_model, packed_to_matrix


def _paw_samples(samples: list) -> list:
    """Samples holding spin-unpolarized converged PAW occupations (meta['paw']['becsum'])."""
    out = []
    for s in samples:
        bec = ((getattr(s, "meta", None) or {}).get("paw") or {}).get("becsum")
        if bec is not None and np.asarray(bec).ndim == 3 and np.asarray(bec).shape[0] == 1:
            out.append(s)
    return out


def fit_occupation_model(
    samples: list, family: Any = None, val: list | None = None, config: dict | None = None
) -> BecsumModel | None:
    """Fit the PAW occupation model on the converged occupations of ``samples``.

    Uses the samples whose ``meta['paw']['becsum']`` holds pw.x's converged ``rho%bec``
    (nspin 1; spin-polarized samples are skipped). Projector layouts and atomic
    occupations come from the UPF files of ``family`` (name or folder, default
    ``debian-pbe``), which must be the files the data was computed with (md5 in the
    samples' ``meta['pseudos']``).

    Returns:
        The fitted :class:`rhocat.models.becsum.BecsumModel` (with ``metrics``: the norm
        of its error relative to the atomic occupations' on train and val), or None when
        no sample holds PAW occupations or the pseudopotentials cannot be matched (warned).
    """
    paw = _paw_samples(samples)
    if not paw:
        return None
    from ase.data import chemical_symbols

    from rhocat.errors import RhocatError
    from rhocat.qe.pseudo import load_family
    from rhocat.qe.upf import read_upf

    elements = sorted({int(z) for s in samples + list(val or []) for z in s.numbers})
    try:
        fam = load_family(family or "debian-pbe")
        layouts = {}
        for z in elements:
            sym = chemical_symbols[z]
            want = {
                (s.meta.get("pseudos") or {}).get(sym, {}).get("md5")
                for s in samples
                if sym in (s.meta.get("pseudos") or {})
            } - {None}
            if want and fam[sym].md5 not in want:
                raise InputError(f"{fam[sym].filename} is not the {sym} file of the training data")
            upf = read_upf(fam[sym].path)
            occ = tuple(float(x) for x in upf.paw_occupations) if upf.is_paw else None
            layouts[z] = SpeciesLayout(tuple(int(x) for x in upf.beta_l), occ)
    except RhocatError as exc:
        warnings.warn(f"PAW occupations not learned: {exc}", stacklevel=2)
        return None
    try:
        model = fit_becsum_model([_occ_arrays(s) for s in paw], layouts, config)
    except ModelError as exc:
        warnings.warn(f"PAW occupations not learned: {exc}", stacklevel=2)
        return None
    model.metrics = {
        "train_error_vs_atomic": _occ_error_ratio(model, paw),
        "val_error_vs_atomic": _occ_error_ratio(model, _paw_samples(list(val or []))),
        "n_train": len(paw),
    }
    return model


def _occ_arrays(s) -> tuple:
    bec = np.asarray(s.meta["paw"]["becsum"], dtype=np.float64)[0]
    return s.numbers, s.positions_bohr, s.cell_bohr, bec


def occupation_errors(model: BecsumModel, sample) -> list[tuple[int, float, float]]:
    """Per PAW atom of ``sample``: (Z, ‖predicted − converged‖², ‖atomic − converged‖²), the
    squared Frobenius distances of its on-site matrices (electrons²) from pw.x's converged
    occupations of the sample. [] when the sample holds no spin-unpolarized converged
    occupations or ``model`` lacks one of its elements."""
    if not _paw_samples([sample]):
        return []
    numbers, pos, cell, bec = _occ_arrays(sample)
    if model.missing(numbers):
        return []
    pred = model.predict(numbers, pos, cell)[0]
    out = []
    for a, z in enumerate(numbers):
        lay = model.layouts[int(z)]
        if not lay.is_paw:
            continue
        ref = packed_to_matrix(bec[a], lay.nh)
        out.append(
            (
                int(z),
                float(np.sum((packed_to_matrix(pred[a], lay.nh) - ref) ** 2)),
                float(np.sum((lay.atomic_matrix() - ref) ** 2)),
            )
        )
    return out


def _occ_error_ratio(model: BecsumModel, samples: list) -> float | None:
    """‖predicted − converged‖ / ‖atomic − converged‖ over the PAW atoms of ``samples``."""
    errors = [e for s in samples for e in occupation_errors(model, s)]
    num = sum(m for _, m, _ in errors)
    den = sum(a for _, _, a in errors)
    return math.sqrt(num / den) if den > 0 else None
