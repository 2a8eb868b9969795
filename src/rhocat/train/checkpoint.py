"""Checkpoints: tensors and JSON strings that load with ``torch.load(weights_only=True)``.

Layout (format ``rhocat-model``, version :data:`FORMAT_VERSION`)::

    format, format_version, kind, config (JSON), elements (list of Z), state_dict,
    metadata (JSON: pseudopotential family + per-element md5, protocol, QE version, ...),
    metrics (JSON), train_state (optional: step, optimizer state, best validation loss),
    becsum (optional: the PAW occupation model, :meth:`BecsumModel.to_state` — JSON
    strings and tensors)

Writes are atomic (temporary name, then ``os.replace``).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import torch

from rhocat.errors import ModelError
from rhocat.fileio import atomic_path
from rhocat.models.base import DensityModel
from rhocat.models.becsum import BecsumModel
from rhocat.models.registry import build_model

FORMAT = "rhocat-model"
FORMAT_VERSION = 1


def checkpoint_dict(
    model: DensityModel,
    metrics: dict | None = None,
    train_state: dict | None = None,
) -> dict:
    """The checkpoint content of ``model`` (tensors on the CPU)."""
    out = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": model.kind,
        "config": json.dumps(model.config),
        "elements": [int(z) for z in model.elements],
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": json.dumps(model.metadata),
        "metrics": json.dumps(metrics or {}),
    }
    if train_state is not None:
        out["train_state"] = train_state
    occ = getattr(model, "becsum_model", None)
    if occ is not None:
        out["becsum"] = occ.to_state()
    return out


def save_checkpoint(path: str | os.PathLike, content: dict) -> Path:
    """Write a checkpoint dict atomically; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(content, tmp)
    return path


def _sniff(path: Path, data: bytes) -> str:
    """``"zip"`` (PyTorch's format) or ``"pickle"``; :class:`ModelError` for an empty,
    truncated or foreign file, saying which."""
    if not data:
        raise ModelError(f"{path} is empty, not a checkpoint")
    if data[:4] == b"PK\x03\x04":
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise ModelError(
                f"{path} is a truncated checkpoint: a PyTorch zip archive cut short "
                f"({len(data)} bytes, no end-of-archive record); copy it again"
            )
        return "zip"
    if len(data) > 1 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return "pickle"
    raise ModelError(
        f"{path} is not a checkpoint: neither a PyTorch zip archive nor a pickle "
        f"(it starts with bytes {data[:8].hex()})"
    )


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and validate a checkpoint dict; :class:`ModelError` if it is not a usable one."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    data = path.read_bytes()
    kind = _sniff(path, data)
    try:
        content = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if kind == "zip":
            raise ModelError(
                f"{path} is not a rhocat checkpoint: it holds pickled objects beyond weights "
                "(code could run on loading), which is refused"
            ) from exc
        raise ModelError(
            f"{path} is an old-style pickle file, not a rhocat checkpoint (rhocat loads "
            "only PyTorch zip checkpoints of weights)"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path} is a damaged checkpoint ({why})") from exc
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ModelError(f"{path} is a PyTorch file but not a rhocat model checkpoint")
    version = content.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{path} has checkpoint format version {version}; "
            f"this rhocat reads version {FORMAT_VERSION}"
        )
    for key in ("kind", "config", "elements", "state_dict", "metadata"):
        if key not in content:
            raise ModelError(f"{path} lacks the checkpoint field {key!r}")
    return content


def model_from_checkpoint(content: dict) -> DensityModel:
    """Rebuild the model stored in a validated checkpoint dict, with its metadata and metrics."""
    try:
        config = json.loads(content["config"])
        model = build_model(content["kind"], config, content["elements"])
        model.load_state_dict(content["state_dict"])
        model.metadata = json.loads(content["metadata"])
        model.metrics = json.loads(content.get("metrics", "{}"))
        if content.get("becsum") is not None:
            model.becsum_model = BecsumModel.from_state(content["becsum"])
    except (json.JSONDecodeError, RuntimeError, KeyError, TypeError) as exc:
        raise ModelError(f"checkpoint does not match a {content.get('kind')} model: {exc}") from exc
    model.eval()
    return model


def load_model(path: str | os.PathLike | None = None) -> DensityModel:
    """A trained model from a checkpoint file (refuses truncated, foreign, old or pickled files).

    ``path`` None: the model shipped with rhocat (``rhocat/pretrained/default.pt``).
    """
    if path is None:
        from rhocat.pretrained import DEFAULT_CHECKPOINT

        if not DEFAULT_CHECKPOINT.is_file():
            raise ModelError("no pretrained model is shipped with this rhocat installation")
        path = DEFAULT_CHECKPOINT
    content = read_checkpoint(path)
    return model_from_checkpoint(content)
