"""Training of density models (``rhocat train``): losses, metrics, checkpoints, DDP."""

from rhocat.models.registry import predict_becsum, predict_delta_rho_g
from rhocat.train.checkpoint import FORMAT_VERSION, load_model, read_checkpoint, save_checkpoint
from rhocat.train.config import resolve_config
from rhocat.train.loop import TrainResult, output_paths, train_model
from rhocat.train.metrics import density_metrics, hartree_energy_ry

__all__ = [
    "FORMAT_VERSION",
    "TrainResult",
    "density_metrics",
    "hartree_energy_ry",
    "load_model",
    "output_paths",
    "predict_becsum",
    "predict_delta_rho_g",
    "read_checkpoint",
    "resolve_config",
    "save_checkpoint",
    "train_model",
]
