"""The whole experiment of the paper at laptop scale, stage after stage.

candidates → combinatorial split → real pw.x DFT → training → warm-started
SCF on structures whose element combination training never saw → report.

Every stage writes into one output folder and is skipped or resumed when its
output is already there, so re-running ``rhocat demo`` reuses finished DFT.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rhocat.fileio import atomic_write_text

#: Elements of the default demo: covered by the built-in ``debian-pbe`` family,
#: mostly ultrasoft/norm-conserving (Ga, As, Ge are PAW), cheap to converge.
DEMO_ELEMENTS = ("B", "C", "N", "Si", "Ge", "Ga", "As", "Ni", "Cu", "Ag")


@dataclass
class DemoConfig:
    """Sizes and settings of a demo run.

    Attributes:
        elements: element symbols to generate candidates from.
        max_atoms: largest cell (atoms) kept, to bound the DFT cost.
        max_per_system: prototypes kept per element combination.
        n_train_binary, n_val, n_test_binary, n_test_ternary: split sizes.
        ecutwfc: wavefunction cutoff of every run, Ry (ecutrho = 8×).
        perturb_ang: random displacement of the atoms (σ, Å), as in the paper.
        strain: random strain of the cells (max component).
        model: model kind; config: its preset; steps: training steps.
        workers, ranks: DFT runs at once, MPI ranks each.
    """

    elements: tuple[str, ...] = DEMO_ELEMENTS
    max_atoms: int = 4
    max_per_system: int = 1
    n_train_binary: int = 12
    n_val: int = 2
    n_test_binary: int = 8
    n_test_ternary: int = 8
    ecutwfc: float = 25.0
    perturb_ang: float = 0.02
    strain: float = 0.02
    model: str = "basis"
    config: str = "small"
    steps: int | None = 300
    workers: int = 1
    ranks: int = 2
    timeout_s: float = 300.0
    seed: int = 0
    extra: dict = field(default_factory=dict)


QUICK = DemoConfig(
    elements=("C", "Si", "Ge", "Ni", "Cu"),
    max_atoms=3,
    n_train_binary=4,
    n_val=1,
    n_test_binary=3,
    n_test_ternary=2,
    ecutwfc=20.0,
    steps=100,
)


@contextmanager
def _stage(title: str, timings: dict[str, float], key: str) -> Iterator[None]:
    """Print the stage's title, run it, record its seconds in ``timings[key]`` and print them."""
    print(f"\n== {title}", flush=True)
    t0 = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - t0
    print(f"   ({timings[key]:.1f} s)", flush=True)


def run_demo(out: str | os.PathLike, config: DemoConfig | None = None) -> dict:
    """Run every stage into ``out``; returns the evaluation summary (plain data).

    Writes ``demo-config.json``, ``candidates/``, ``split.json``, ``data/`` (the DFT
    dataset), ``model.pt``, ``results/`` and ``report.html`` (the demo's own model),
    ``results-shipped/`` and ``report-shipped.html`` (rhocat's shipped model, when the
    demo has test structures it may be judged on) and ``demo-timings.json`` (s per stage).
    """
    cfg = config or DemoConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "demo-config.json", json.dumps(asdict(cfg), indent=1))
    timings: dict[str, float] = {}
    elements = ", ".join(cfg.elements)
    with _stage(f"1/6 candidates from prototypes: {elements}", timings, "candidates_s"):
        cands = _candidates(cfg, out)
    title = "2/6 combinatorial split (no element combination of val/test in train)"
    with _stage(title, timings, "split_s"):
        split_path = _split(cfg, out, cands)
    title = "3/6 ground-truth DFT with pw.x (resumable; finished structures are reused)"
    with _stage(title, timings, "dft_s"):
        manifest = _ground_truth(cfg, out, split_path)
    with _stage(f"4/6 training the '{cfg.model}' model on the CPU", timings, "train_s"):
        dataset, model_path = _train(cfg, out, manifest)
    title = "5/6 warm-started SCF on unseen element combinations vs the ACS"
    with _stage(title, timings, "evaluate_s"):
        summary = _evaluate_own(cfg, out, dataset, model_path)
    title = "5b/6 rhocat's shipped model on the unseen combinations it was not trained on"
    with _stage(title, timings, "evaluate_shipped_s"):
        shipped = evaluate_shipped(dataset, out / "results-shipped", cfg)
    with _stage("6/6 report", timings, "report_s"):
        html, shipped_html = _reports(out, shipped is not None)
    _print_summaries(cfg, dataset, summary, html, shipped, shipped_html)
    atomic_write_text(out / "demo-timings.json", json.dumps(timings, indent=1))
    return summary


def _candidates(cfg: DemoConfig, out: Path) -> list:
    """Stage 1: candidates of ``cfg.elements`` from the prototypes, into ``out/candidates``."""
    from rhocat.structures import generate_candidates, write_candidates

    cands = generate_candidates(
        cfg.elements, max_atoms=cfg.max_atoms, max_per_system=cfg.max_per_system
    )
    write_candidates(cands, out / "candidates")
    print(f"   {len(cands)} candidates")
    return cands


def _split(cfg: DemoConfig, out: Path, cands: list) -> Path:
    """Stage 2: the combinatorial split, written to ``out/split.json``."""
    from rhocat.split import make_split, summary_table, write_split

    split = make_split(
        cands,
        seed=cfg.seed,
        n_val=cfg.n_val,
        n_train_binary=cfg.n_train_binary,
        n_test_binary=cfg.n_test_binary,
        n_test_ternary=cfg.n_test_ternary,
    )
    split_path = write_split(split, out / "split.json")
    print(summary_table(split))
    return split_path


def _ground_truth(cfg: DemoConfig, out: Path, split_path: Path):
    """Stage 3: pw.x on every structure of the split into the dataset ``out/data``
    (resumable); returns its manifest."""
    from rhocat.data.build import BuildConfig, build_dataset, jobs_from_split
    from rhocat.data.manifest import dataset_manifest

    manifest = dataset_manifest(
        cfg.ecutwfc, perturb_ang=cfg.perturb_ang, strain=cfg.strain, seed=cfg.seed
    )
    report = build_dataset(
        jobs_from_split(split_path),
        out / "data",
        BuildConfig(manifest=manifest, ranks=cfg.ranks, timeout_s=cfg.timeout_s),
        engine=_engine(cfg.workers),
    )
    print(
        f"   {report.done} computed, {report.skipped} reused, {report.failed} failed "
        f"(failures are recorded and left out of training)"
    )
    return manifest


def _train(cfg: DemoConfig, out: Path, manifest) -> tuple[Any, Path]:
    """Stage 4: the demo's model trained on ``out/data`` into ``out/model.pt`` (reused
    when present); returns (the dataset, the checkpoint path)."""
    from rhocat.data.store import Dataset
    from rhocat.qe.pseudo import load_family
    from rhocat.train import train_model

    family = load_family("debian-pbe")
    dataset = Dataset(out / "data")
    model_path = out / "model.pt"
    if model_path.exists():
        print(f"   reusing {model_path}")
        return dataset, model_path
    train_model(
        dataset,
        model=cfg.model,
        config=cfg.config,
        steps=cfg.steps,
        out=model_path,
        metadata={
            "family": family.name,
            "pseudo_md5": family.md5s(),
            "protocol": "fast",
            "overrides": manifest.overrides,
        },
    )
    return dataset, model_path


def _evaluate_own(cfg: DemoConfig, out: Path, dataset, model_path: Path) -> dict:
    """Stage 5: the demo's model on its test splits, into ``out/results``; the summary."""
    from rhocat.evaluate.runner import evaluate
    from rhocat.train import load_model

    return evaluate(
        load_model(model_path),
        dataset,
        out / "results",
        model_path=model_path,
        splits=("test_binary", "test_ternary"),
        ranks=cfg.ranks,
        timeout_s=cfg.timeout_s,
    )


def _reports(out: Path, shipped: bool) -> tuple[Path, Path | None]:
    """Stage 6: ``report.html`` (and ``report-shipped.html``); returns their paths."""
    from rhocat.report.html import build_report

    html = build_report(out / "results", out / "report.html")
    shipped_html = None
    if shipped:
        shipped_html = build_report(out / "results-shipped", out / "report-shipped.html")
    return html, shipped_html


def _print_summaries(cfg, dataset, summary, html, shipped, shipped_html) -> None:
    """The tables of both models and where their reports are."""
    from rhocat.evaluate.tables import to_markdown

    print()
    print(f"the demo's own model ({cfg.steps} steps on {len(dataset.ids(split='train'))} "
          "structures: it shows the pipeline, not what a trained model does):")  # fmt: skip
    print(to_markdown(summary))
    print(f"\nreport: {html.resolve()}")
    if shipped is not None:
        print("\nrhocat's shipped model on the same kind of structures (element combinations "
              "absent from its training card):")  # fmt: skip
        print(to_markdown(shipped))
        print(f"\nreport: {shipped_html.resolve()}")


def shipped_test_ids(dataset) -> tuple[list[str], str]:
    """Ids of the dataset's converged test entries the shipped model may be judged on.

    An entry qualifies when the shipped model covers its elements and its element
    combination is absent from the model's training card (``train_systems``): the
    paper's test of combinatorial generalization. Returns (ids, why none when empty).
    """
    from ase.data import chemical_symbols

    from rhocat.errors import ModelError
    from rhocat.pretrained import load_pretrained, trained_systems

    try:
        model = load_pretrained()
        seen = trained_systems()
    except ModelError as exc:
        return [], str(exc)
    if not seen:
        return [], "the shipped model's card does not list its training combinations"
    covered = {chemical_symbols[z] for z in model.elements}
    ids = [
        row.id
        for row in dataset.rows(split=["test_binary", "test_ternary"], status="ok")
        if set(row.element_list) <= covered and tuple(sorted(row.element_list)) not in seen
    ]
    why = "" if ids else "every test combination of this demo is in its training card"
    return ids, why


def evaluate_shipped(dataset, out: Path, cfg: DemoConfig) -> dict | None:
    """Evaluate the shipped model on :func:`shipped_test_ids`; None (said why) if none."""
    from rhocat.evaluate.runner import evaluate
    from rhocat.pretrained import DEFAULT_CHECKPOINT, load_pretrained

    ids, why = shipped_test_ids(dataset)
    if not ids:
        print(f"   skipped: {why}")
        return None
    print(f"   {len(ids)} structure(s): {', '.join(ids)}")
    return evaluate(
        load_pretrained(),
        dataset,
        out,
        model_path=DEFAULT_CHECKPOINT,
        ids=ids,
        ranks=cfg.ranks,
        timeout_s=cfg.timeout_s,
    )


def _engine(workers: int):
    from rhocat.data.engines import make_engine

    return make_engine("local", workers=workers)
