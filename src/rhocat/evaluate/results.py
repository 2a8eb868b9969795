"""The results folder of an evaluation: one JSON per structure, resumable.

Layout::

    RESULTS/
      manifest.json          model checksum, dataset, protocol of the evaluation
      structures/<id>.json   one row per structure (atomic writes)
      summary.json           Tables 2, 3 and wall clock (rewritten at the end)
      summary.md             the same as Markdown

A results folder belongs to one model (its SHA-256): mixing rows of two models
would make the tables meaningless, so opening a folder with another model
raises :class:`rhocat.errors.InputError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from rhocat.errors import InputError
from rhocat.fileio import atomic_write_json, atomic_write_text

SCHEMA = "rhocat.evaluate/1"
MANIFEST = "manifest.json"
ROWS = "structures"


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file (a model checkpoint); a directory hashes its files."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for q in files:
        if p.is_dir():
            h.update(str(q.relative_to(p)).encode())
        with open(q, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


#: JSON and text written atomically (kept under these names for the callers of this module).
write_json_atomic = atomic_write_json
write_text_atomic = atomic_write_text


def _safe_name(structure_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", structure_id)


class ResultsDir:
    """A results folder bound to one model checksum.

    Args:
        path: the folder (created if missing).
        model_sha256: checksum of the model being evaluated.
        info: extra manifest fields written on creation (model path, dataset,
            splits, rhocat version).
        settings: evaluation settings that change the numbers (JSON-able); reopening
            with different ones raises :class:`InputError`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        model_sha256: str,
        info: dict | None = None,
        settings: dict | None = None,
    ):
        self.path = Path(path)
        self.model_sha256 = model_sha256
        manifest = self.path / MANIFEST
        if manifest.exists():
            try:
                old = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise InputError(f"{manifest}: unreadable results manifest ({exc})") from exc
            if old.get("schema") != SCHEMA:
                raise InputError(
                    f"{self.path}: not a rhocat evaluation folder ({old.get('schema')})"
                )
            if old.get("model_sha256") != model_sha256:
                raise InputError(
                    f"{self.path} holds results of another model "
                    f"(sha256 {str(old.get('model_sha256'))[:12]}…, "
                    f"{old.get('model', '?')}); this model is {model_sha256[:12]}…. "
                    "Refusing to mix them: choose another -o folder."
                )
            old_settings = old.get("settings") or {}
            new_settings = json.loads(json.dumps(settings or {}))
            if old_settings != new_settings:
                diff = sorted(
                    k
                    for k in set(old_settings) | set(new_settings)
                    if old_settings.get(k) != new_settings.get(k)
                )
                raise InputError(
                    f"{self.path} holds results evaluated with other settings "
                    f"({', '.join(f'{k}: {old_settings.get(k)!r}' for k in diff)}); "
                    "choose another -o folder or the same settings"
                )
            self.manifest = old
        else:
            if self.path.exists() and any(self.path.iterdir()):
                raise InputError(
                    f"{self.path} exists, is not empty and is not a rhocat results folder"
                )
            self.manifest = {
                "schema": SCHEMA,
                "model_sha256": model_sha256,
                "settings": json.loads(json.dumps(settings or {})),
                **(info or {}),
            }
            write_json_atomic(manifest, self.manifest)

    def row_path(self, structure_id: str) -> Path:
        return self.path / ROWS / f"{_safe_name(structure_id)}.json"

    def has(self, structure_id: str, *, ok_only: bool = False) -> bool:
        """Whether a row for this structure exists (and, with ``ok_only``, succeeded)."""
        p = self.row_path(structure_id)
        if not p.exists():
            return False
        if not ok_only:
            return True
        try:
            return json.loads(p.read_text()).get("status") == "ok"
        except (OSError, json.JSONDecodeError):
            return False

    def write_row(self, row: dict) -> Path:
        """Write one structure's row atomically; it carries the model checksum."""
        row = {"schema": SCHEMA, "model_sha256": self.model_sha256, **row}
        p = self.row_path(row["id"])
        write_json_atomic(p, row)
        return p


def load_rows(path: str | os.PathLike) -> list[dict]:
    """All structure rows of a results folder, sorted by id.

    Raises:
        InputError: not a results folder, or rows of more than one model.
    """
    folder = Path(path)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise InputError(f"{folder}: not a rhocat results folder (no {MANIFEST})")
    try:
        info = json.loads(manifest.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{manifest}: unreadable ({exc})") from exc
    rows = []
    for p in sorted((folder / ROWS).glob("*.json")):
        try:
            row = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: unreadable result row ({exc})") from exc
        if row.get("model_sha256") != info.get("model_sha256"):
            raise InputError(f"{p}: a row of another model; the folder mixes models")
        rows.append(row)
    return rows


def load_manifest(path: str | os.PathLike) -> dict:
    """The manifest of a results folder (model checksum, dataset, ...)."""
    manifest = Path(path) / MANIFEST
    if not manifest.is_file():
        raise InputError(f"{path}: not a rhocat results folder (no {MANIFEST})")
    return json.loads(manifest.read_text())
