"""A warm start for aiida-quantumespresso's ``PwBaseWorkChain``: one line in the user's script.

::

    builder = PwBaseWorkChain.get_builder_from_protocol(code, structure, ...)   # as before
    builder = warm_start(builder)                                               # the new line
    submit(builder)

How the prediction reaches pw.x (aiida-quantumespresso 5.1): ``PwCalculation``
accepts a ``parent_folder`` of type ``RemoteData`` only, and copies
``<parent>/out/*`` into its own ``./out/`` before pw.x runs (``prefix``
``aiida``, so pw.x reads ``out/aiida.save/charge-density.dat``, and
``paw.txt`` for PAW species, with ``startingpot='file'``). So:

1. :func:`predicted_folder` predicts the density for the builder's structure,
   its exact pseudopotential files (the ``UpfData`` nodes) and its ``ecutrho``,
   and stores it as a ``FolderData`` (``out/aiida.save/charge-density.dat``,
   ``paw.txt``, ``prediction.json``) whose attributes carry the provenance: the
   model's SHA-256 (``rhocat_model_sha256``), its card (``rhocat_model_card``)
   and the prediction's summary (``rhocat_prediction``);
2. :func:`remote_start` copies it to the code's computer with aiida-core's
   ``core.transfer`` calculation (no scheduler job; SSH for a cluster) and
   returns that calculation's ``remote_folder`` (a ``RemoteData``), so the
   provenance graph reads FolderData → TransferCalculation → RemoteData →
   PwCalculation;
3. :func:`warm_start` sets ``pw.parent_folder`` to it and
   ``ELECTRONS.startingpot = 'file'`` (and the prediction's ``diago_thr_init`` and
   ``startingwfc`` unless set, :func:`rhocat.predict.core.first_threshold`,
   :func:`rhocat.predict.core.warm_startingwfc`) in a copy of ``pw.parameters``.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rhocat.errors import InputError
from rhocat.qe.save import PREDICTION_RECORD, RESTART_FILES

#: What PwCalculation (prefix ``aiida``, outdir ``./out/``) reads with startingpot='file'.
SAVE = "out/aiida.save"
ATTR_SHA = "rhocat_model_sha256"
ATTR_CARD = "rhocat_model_card"
ATTR_PREDICTION = "rhocat_prediction"


def model_card(model, model_path: str | os.PathLike | None = None) -> tuple[Any, str, dict]:
    """(model, SHA-256, card) for a model object, a checkpoint path, or None (shipped model).

    The checksum is the checkpoint file's SHA-256 when there is a file (the shipped
    model's ``default.pt`` for None), else that of the model's state
    (:func:`rhocat.evaluate.runner.model_checksum`). The card is the shipped
    model's training card, else the model's kind, elements, configuration and
    metadata (plain data).
    """
    from rhocat.evaluate.runner import model_checksum
    from rhocat.fileio import to_jsonable

    if model is None and model_path is None:
        from rhocat.pretrained import DEFAULT_CHECKPOINT, load_pretrained, training_card

        return load_pretrained(), model_checksum(None, DEFAULT_CHECKPOINT), training_card()
    if model is None:
        from rhocat.train import load_model

        model = load_model(model_path)
    from ase.data import chemical_symbols

    card = {
        "kind": getattr(model, "kind", type(model).__name__),
        "elements": [chemical_symbols[int(z)] for z in getattr(model, "elements", [])],
        "config": dict(getattr(model, "config", {}) or {}),
        "metadata": dict(getattr(model, "metadata", {}) or {}),
        "checkpoint": str(model_path) if model_path else None,
    }
    return model, model_checksum(model, model_path), to_jsonable(card)


def _family_of(pseudos: Mapping[str, Any], kinds: Mapping[str, str], directory: Path):
    """A rhocat family of the builder's exact UPF files (written to ``directory``)."""
    from rhocat.qe.pseudo import family_from_files

    files: dict[str, Path] = {}
    md5s: dict[str, str] = {}
    for kind, node in pseudos.items():
        element = kinds.get(kind)
        if element is None:
            continue
        md5 = getattr(node, "md5", None)
        if element in md5s and md5s[element] != md5:
            raise InputError(f"two pseudopotential files for {element}: rhocat needs one")
        path = directory / f"{element}.{node.filename}"
        path.write_bytes(node.get_content(mode="rb"))
        files[element], md5s[element] = path, md5
    missing = sorted(set(kinds.values()) - set(files))
    if missing:
        raise InputError(f"the builder has no pseudopotential for {', '.join(missing)}")
    return family_from_files(files, name="aiida")


def predicted_folder(
    structure,
    pseudos: Mapping[str, Any],
    parameters: Mapping,
    model=None,
    *,
    model_path: str | os.PathLike | None = None,
    allow_unseen: bool = False,
):
    """The predicted start of ``structure`` as a stored ``FolderData`` (provenance attributes).

    Args:
        structure: AiiDA ``StructureData`` (or anything
            :func:`rhocat.structures.convert.to_atoms` takes).
        pseudos: kind name -> ``UpfData`` (a builder's ``pw.pseudos``).
        parameters: the ``pw.parameters`` namelists (upper case, as the plugin
            takes them); ``SYSTEM.ecutrho`` (default 4 × ``ecutwfc``, Ry) fixes the G list.
        model, model_path: the density model (None and None: the shipped model).
        allow_unseen: predict for elements the model never saw.

    Raises:
        InputError: no ``ecutwfc``, ``nspin`` ≠ 1, a pseudopotential missing.
        ModelError: the model does not know an element, or was trained on other files.
    """
    from aiida import orm

    from rhocat.predict.core import predict_restart
    from rhocat.structures.convert import to_atoms

    atoms = to_atoms(structure)
    system = {k.lower(): v for k, v in dict(parameters.get("SYSTEM", {})).items()}
    if "ecutwfc" not in system:
        raise InputError("pw.parameters sets no SYSTEM.ecutwfc")
    if int(system.get("nspin", 1)) != 1 or system.get("noncolin") or system.get("lspinorb"):
        raise InputError("rhocat predicts spin-unpolarised densities: SYSTEM.nspin must be 1")
    ecutwfc = float(system["ecutwfc"])
    ecutrho = float(system.get("ecutrho", 4.0 * ecutwfc))
    if hasattr(structure, "kinds"):
        kinds = {k.name: k.symbol for k in structure.kinds}
    else:
        kinds = {s: s for s in set(atoms.get_chemical_symbols())}
    model, sha, card = model_card(model, model_path)

    with tempfile.TemporaryDirectory(prefix="rhocat-aiida-start-") as tmp:
        tmp = Path(tmp)
        (tmp / "upf").mkdir()
        family = _family_of(pseudos, kinds, tmp / "upf")
        pred = predict_restart(
            model,
            atoms,
            family=family,
            out_dir=tmp / "start",
            allow_unseen=allow_unseen,
            ecutrho_ry=ecutrho,
        )
        folder = orm.FolderData()
        for name in RESTART_FILES:
            if (tmp / "start" / name).is_file():
                folder.base.repository.put_object_from_file(
                    str(tmp / "start" / name), f"{SAVE}/{name}"
                )
        folder.base.repository.put_object_from_file(
            str(tmp / "start" / PREDICTION_RECORD), PREDICTION_RECORD
        )
    summary = pred.to_dict()
    summary.pop("restart_dir", None)
    summary.pop("requirements", None)
    summary.update(
        ecutwfc_ry=ecutwfc,
        pseudo_md5={el: family[el].md5 for el in sorted(set(atoms.get_chemical_symbols()))},
    )
    folder.base.attributes.set_many({ATTR_SHA: sha, ATTR_CARD: card, ATTR_PREDICTION: summary})
    folder.label = "rhocat-prediction"
    folder.description = f"rhocat start density of {atoms.get_chemical_formula()}"
    return folder.store()


def remote_start(folder, computer):
    """Copy a :func:`predicted_folder` to ``computer``; returns the ``RemoteData`` to start from.

    Runs aiida-core's ``core.transfer`` calculation in this process (no
    scheduler job is submitted; files travel over the computer's transport).
    The ``RemoteData`` gets the model's checksum as the extra ``rhocat_model_sha256``.
    """
    from aiida import orm
    from aiida.engine import run_get_node
    from aiida.plugins import CalculationFactory

    if isinstance(computer, str):
        computer = orm.load_computer(computer)
    files = [n for n in folder.base.repository.list_object_names(SAVE) if n in RESTART_FILES]
    builder = CalculationFactory("core.transfer").get_builder()
    builder.source_nodes = {"prediction": folder}
    builder.instructions = orm.Dict(
        {
            "retrieve_files": False,
            "local_files": [("prediction", f"{SAVE}/{n}", f"{SAVE}/{n}") for n in files],
        }
    )
    builder.metadata.computer = computer
    builder.metadata.label = "rhocat-start-transfer"
    _, node = run_get_node(builder)
    if not node.is_finished_ok or "remote_folder" not in node.outputs:
        raise InputError(
            f"copying the prediction to {computer.label} failed: {node.process_label}"
            f"<{node.pk}> exit status {node.exit_status} {node.exit_message or ''}"
        )
    remote = node.outputs.remote_folder
    sha = folder.base.attributes.get(ATTR_SHA, None)
    if sha is not None:
        remote.base.extras.set(ATTR_SHA, sha)
    return remote


def warm_start(
    builder,
    model=None,
    *,
    model_path: str | os.PathLike | None = None,
    allow_unseen: bool = False,
):
    """Make a ``PwBaseWorkChain`` builder start pw.x from rhocat's predicted density.

    Reads ``pw.structure``, ``pw.pseudos``, ``pw.parameters`` and ``pw.code`` of
    ``builder`` (for instance one from ``PwBaseWorkChain.get_builder_from_protocol``),
    predicts, copies the start to the code's computer (:func:`remote_start`), and
    sets ``pw.parent_folder``, ``ELECTRONS.startingpot = 'file'`` and, unless set,
    ``ELECTRONS.diago_thr_init`` and ``ELECTRONS.startingwfc`` to the prediction's (the
    shipped model's: 0.01 and 'atomic'; see :func:`rhocat.predict.core.first_threshold`
    and :func:`~rhocat.predict.core.warm_startingwfc`). Nothing else changes. Returns the
    same builder.

    Args:
        builder: a ``PwBaseWorkChain`` builder (an SCF; ``nspin`` 1).
        model: a rhocat density model, or None for ``model_path`` / the shipped model.
        model_path: a checkpoint file (its SHA-256 is recorded).
        allow_unseen: predict for elements the model never saw.
    """
    from aiida import orm

    pw = builder.pw
    for port in ("structure", "pseudos", "parameters", "code"):
        if port not in pw or not pw[port]:
            raise InputError(f"the builder sets no pw.{port}: set it before warm_start")
    parameters = copy.deepcopy(pw.parameters.get_dict())
    calculation = parameters.get("CONTROL", {}).get("calculation", "scf")
    if calculation in ("nscf", "bands"):
        raise InputError(f"a {calculation} calculation reads its density already; no warm start")
    folder = predicted_folder(
        pw.structure,
        dict(pw.pseudos),
        parameters,
        model,
        model_path=model_path,
        allow_unseen=allow_unseen,
    )
    remote = remote_start(folder, pw.code.computer)
    from rhocat.predict.pwinput import warm_start_electrons

    prediction = folder.base.attributes.get(ATTR_PREDICTION)
    parameters["ELECTRONS"] = warm_start_electrons(
        parameters.get("ELECTRONS"), prediction["diago_thr_init"], prediction.get("startingwfc")
    )
    pw.parameters = orm.Dict(parameters)
    pw.parent_folder = remote
    return builder
