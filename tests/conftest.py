"""Shared fixtures (small real structures) and the markers of tests that need a tool.

A test that needs a tool says so with a marker; without the tool it is skipped
with the reason, never silently passed. The Makefile installs every one of
these tools, so under CI (``$CI`` set) such a skip fails the run instead: a
green CI must not mean "tested nothing".

    needs_pw        pw.x and its pseudopotentials (make qe: quantum-espresso[-data])
    needs_upf       the UPF files of quantum-espresso-data
    aiida           aiida-core, aiida-quantumespresso, aiida-pseudo (the aiida extra)
    needs_chgnet    CHGNet (the relax extra)
    needs_chromium  a headless Chromium (make chromium)
    needs_c_build   rhocat's optional C speed-ups, compiled at install (setup.py; a C compiler)
    slow            more than a few seconds of pw.x or training (left out by make test-fast)
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest
from ase.build import bulk

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Tests run in parallel (pytest -n 2): one MPI rank per pw.x keeps the 2 cores busy.
os.environ.setdefault("RHOCAT_RANKS", "1")

#: Low cutoffs that keep a 2-atom SCF around a second (not converged physics).
LOW_CUTOFF = {"system": {"ecutwfc": 20.0, "ecutrho": 160.0}}


def entry_sample(atoms, name: str, **meta):
    """A stand-in for a dataset entry (:class:`rhocat.data.sample.DensitySample`) of
    ``atoms``: id, numbers, positions and cell in bohr, and ``meta`` (e.g. ``parameters``
    of the ground-truth run, its ``iterations``); what the SCF benchmarks read of one."""
    from types import SimpleNamespace

    import numpy as np

    from rhocat.units import BOHR_PER_ANGSTROM

    return SimpleNamespace(
        id=name,
        numbers=atoms.numbers,
        positions_bohr=atoms.positions * BOHR_PER_ANGSTROM,
        cell_bohr=np.asarray(atoms.cell) * BOHR_PER_ANGSTROM,
        meta=dict(meta),
    )


def first_ethr(pw_output: str) -> str:
    """pw.x's first diagonalization threshold as its output prints it (e.g. ``1.00E-02``)."""
    import re

    return re.findall(r"ethr =\s+([\d.E+-]+)", pw_output)[0]


def _upf_installed() -> bool:
    from rhocat.qe.pseudo import DEBIAN_PSEUDO_DIR

    return DEBIAN_PSEUDO_DIR.is_dir()


def _pw_installed() -> bool:
    return shutil.which("pw.x") is not None and _upf_installed()


def _chgnet_installed() -> bool:
    return importlib.util.find_spec("chgnet") is not None


def _aiida_installed() -> bool:
    names = ("aiida", "aiida_quantumespresso", "aiida_pseudo")
    return all(importlib.util.find_spec(n) is not None for n in names)


def _c_build_installed() -> bool:
    return importlib.util.find_spec("rhocat.qe._hpsort") is not None


def chromium_path() -> str | None:
    """The first headless-capable browser on PATH, else None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


#: marker -> (is the tool there?, how to get it)
TOOLS = {
    "needs_pw": (
        _pw_installed,
        "pw.x is not installed: `make qe` (quantum-espresso, quantum-espresso-data)",
    ),
    "needs_upf": (_upf_installed, "quantum-espresso-data is not installed (its UPF files)"),
    "aiida": (_aiida_installed, "the aiida extra is not installed: pip install 'rhocat[aiida]'"),
    "needs_chgnet": (
        _chgnet_installed,
        "the relax extra is not installed: pip install 'rhocat[relax]'",
    ),
    "needs_chromium": (
        lambda: chromium_path() is not None,
        "chromium is not installed: `make chromium` or apt-get install chromium",
    ),
    "needs_c_build": (
        _c_build_installed,
        "rhocat's C speed-up is not built: a C compiler, then pip install -e . again",
    ),
}


def pytest_configure(config):
    for name in TOOLS:
        config.addinivalue_line("markers", f"{name}: needs {name.removeprefix('needs_')}")
    config.addinivalue_line("markers", "slow: more than a few seconds (make test-fast skips it)")


def in_ci() -> bool:
    """Whether the run is a CI run (``$CI`` set to anything but empty/0/false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


#: Fixtures that run pw.x: a test using one needs pw.x (marked at collection).
PW_FIXTURES = {
    "acs_dumps",  # tests/qe/conftest_files.py
    "geometry_dumps",
    "special_dumps",
    "si_reference",  # tests/qe/test_scf.py
    "paw_runs",  # tests/models/test_becsum.py
    "real_samples",  # tests/train/conftest.py
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if PW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.needs_pw)
    items[:] = _in_schedule_order(items)


def _in_schedule_order(items: list) -> list:
    """``items`` grouped by file: first the files with a test marked ``scheduled_first``,
    then the others by their number of tests, most first (ties in collection order).

    `make test` runs `pytest -n 2 --dist loadfile --no-loadscope-reorder`, so xdist hands
    out files in this order. Its own order (by number of tests alone) started the quick
    demo, one test of about 3 minutes, among the last files, where it could end the run
    alone on one core.
    """
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)

    def later(name: str) -> tuple[bool, int]:
        marked = any(i.get_closest_marker("scheduled_first") for i in files[name])
        return (not marked, -len(files[name]))

    return [item for name in sorted(files, key=later) for item in files[name]]


def _tool_markers(item) -> list[str]:
    return [name for name in TOOLS if item.get_closest_marker(name) is not None]


def pytest_runtest_setup(item):
    for name in _tool_markers(item):
        present, hint = TOOLS[name]
        if not present():
            if in_ci():
                pytest.fail(f"CI: {hint} (a skip here would test nothing)", pytrace=False)
            pytest.skip(hint)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI, a test that needs a Makefile-installed tool and skipped itself fails."""
    report = yield
    if report.skipped and in_ci() and _tool_markers(item) and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        reason = str(reason).removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"CI: skipped a test marked {', '.join(_tool_markers(item))}: {reason}"
    return report


@pytest.fixture
def si_atoms():
    """Diamond Si, primitive 2-atom cell (Å)."""
    return bulk("Si", "diamond", a=5.43)


@pytest.fixture
def low_cutoff():
    return {k: dict(v) for k, v in LOW_CUTOFF.items()}
