"""Predicted start densities for pw.x: ACS + model correction, written as a restart folder.

:func:`predict_restart` works from the structure, the pseudopotentials and the
model alone; it never opens a dataset.
"""

from rhocat.predict.core import (
    PredictionResult,
    constrain_density,
    export_grid,
    model_delta_rho_g,
    predict_many,
    predict_restart,
)

__all__ = [
    "PredictionResult",
    "constrain_density",
    "export_grid",
    "model_delta_rho_g",
    "predict_many",
    "predict_restart",
]
