"""One structure's evaluation: the row a results folder stores (one JSON file each).

:class:`EvalRow` names each figure for what it is; :meth:`EvalRow.to_dict` writes
the JSON columns that results folders, ``summary.json`` and the report have always
used. Two of them keep their historical names:

- ``inference_s`` is :attr:`EvalRow.prediction_s`, the whole
  :func:`rhocat.predict.predict_restart` call (G list, ACS, model, PAW
  occupations, charge fix, files): what a user waits for before pw.x starts,
  and what the wall-clock saving counts;
- ``model_s`` is :attr:`EvalRow.model_s`, the model's own inference inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: Attribute -> JSON column, where they differ.
COLUMN_OF = {"prediction_s": "inference_s"}


@dataclass
class EvalRow:
    """A finished evaluation of one structure (times in s, energies in Ry, gaps in eV).

    ``baseline``/``learned`` summarise the ACS-start and the learned-start pw.x
    runs, ``reference`` the dataset's ground-truth run; ``projection`` holds the
    true and predicted densities averaged over planes (for the report).
    """

    id: str
    split: str
    formula: str
    n_atoms: int
    status: str
    converged: bool
    s_auc: float | None
    iterations_saved: float | None
    energy_diff_ry: float | None
    band_gap_diff_ev: float | None
    energy_diff_vs_reference_ry: float | None
    mae: float
    nmae: float
    mae_acs: float
    nmae_acs: float
    prediction_s: float
    model_s: float
    scf_s: float
    baseline_scf_s: float
    wall_clock_saving: float | None
    becsum_source: str
    uncertainty: float | None  # an ensemble's disagreement u (None for a single model)
    shrink: float | None  # the factor 1/(1 + c u²) an ensemble applied to Δρ (None: none)
    negative_fraction: float
    clipped_fraction: float
    ranks: int | None
    warm_diago_thr_init: float | None
    warm_startingwfc: str | None  # pw.x's startingwfc in the warm run
    baseline: dict
    learned: dict
    reference: dict
    baseline_matches_reference: bool
    projection: dict
    reason: str | None = None  # why a run did not converge (absent when both did)

    def to_dict(self) -> dict:
        """The JSON row (column names as stored; ``reason`` only when set)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "reason" and value is None:
                continue
            out[COLUMN_OF.get(f.name, f.name)] = value
        return out
