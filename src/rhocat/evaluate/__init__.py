"""Evaluation of warm starts: rerun pw.x from a prediction and compare with the ACS start.

- :mod:`rhocat.evaluate.metrics`: s-AUC (equation 2 of Pope & Jacobs 2023),
  iterations saved, wall-clock saving, MAE/NMAE, summary statistics.
- :mod:`rhocat.evaluate.tables`: the paper's Tables 2 and 3 plus wall clock.
- :mod:`rhocat.evaluate.results`: the resumable results folder.
- :mod:`rhocat.evaluate.runner`: ``evaluate(model, dataset, ...)``.
"""

from rhocat.evaluate.metrics import (
    iterations_saved,
    mae,
    nmae,
    s_auc,
    summary_stats,
    wall_clock_saving,
)

__all__ = ["iterations_saved", "mae", "nmae", "s_auc", "summary_stats", "wall_clock_saving"]
