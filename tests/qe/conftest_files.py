"""Helpers for the QE file-layer tests: tiny pw.x runs written by hand.

Not a conftest (tests/conftest.py belongs to the package-wide fixtures): the
test modules import what they need from here. Every run is a real pw.x on a
1-2 atom cell at a low cutoff with one MPI rank.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from rhocat.qe.gvectors import QE_BOHR_ANGSTROM

PSEUDO = Path("/usr/share/espresso/pseudo")
EXAMPLES = Path("/usr/share/doc/quantum-espresso/examples")

FILES = {
    "Si": PSEUDO / "Si.pbe-nl-rrkjus_psl.1.0.0.UPF",  # US
    "Ni": PSEUDO / "Ni.pbe-spn-kjpaw_psl.1.0.0.UPF",  # PAW
    "NiUS": PSEUDO / "Ni.pbe-nd-rrkjus.UPF",  # US, for spin-polarized runs
    "Ag": EXAMPLES / "GWW/example04/Ag_ONCV_PBE-1.0.upf.gz",  # NC (ONCV)
    "Ga": EXAMPLES / "PP/simple_transport/scf/Ga.pbe-dn-kjpaw_psl.0.2.upf.gz",  # PAW
    "As": EXAMPLES / "PP/simple_transport/scf/As.pbe-n-kjpaw_psl.0.2.upf.gz",  # PAW
}


def fcc(a: float) -> np.ndarray:
    """fcc primitive vectors (rows) for cubic lattice constant a (same unit)."""
    return np.array([[-a / 2, 0, a / 2], [0, a / 2, a / 2], [-a / 2, a / 2, 0]])


@dataclass
class Case:
    """A structure + pseudopotentials + cutoffs, with the pw.x input that runs it."""

    name: str
    cell_bohr: np.ndarray
    species: dict[str, str]  # label -> key of FILES
    positions: list[tuple[str, tuple[float, float, float]]]  # label, crystal coords
    ecutwfc: float
    ecutrho: float
    kpts: int = 2  # 0: Gamma tricks

    def atoms(self) -> Atoms:
        return Atoms(
            [label for label, _ in self.positions],
            cell=self.cell_bohr * QE_BOHR_ANGSTROM,
            scaled_positions=[p for _, p in self.positions],
            pbc=True,
        )

    def family(self, pseudo_dir: Path) -> dict[str, Path]:
        return {label: pseudo_dir / _plain_name(FILES[key]) for label, key in self.species.items()}

    def input(self, outdir: Path, pseudo_dir: Path, electrons: str = "", system: str = "") -> str:
        species = "\n".join(
            f"{label} 1.0 {_plain_name(FILES[key])}" for label, key in self.species.items()
        )
        cell = "\n".join(" ".join(f"{x:.12f}" for x in row) for row in self.cell_bohr)
        pos = "\n".join(
            f"{label} " + " ".join(f"{x:.12f}" for x in p) for label, p in self.positions
        )
        k = self.kpts
        kp = "K_POINTS gamma" if k == 0 else f"K_POINTS automatic\n{k} {k} {k} 0 0 0"
        return f"""&control
  calculation='scf', prefix='{self.name}', outdir='{outdir}', pseudo_dir='{pseudo_dir}'
/
&system
  ibrav=0, nat={len(self.positions)}, ntyp={len(self.species)},
  ecutwfc={self.ecutwfc}, ecutrho={self.ecutrho},
  occupations='smearing', smearing='cold', degauss=0.0275 {system}
/
&electrons
  mixing_beta=0.4, conv_thr=1e-9, {electrons}
/
ATOMIC_SPECIES
{species}
CELL_PARAMETERS bohr
{cell}
ATOMIC_POSITIONS crystal
{pos}
{kp}
"""


def _plain_name(path: Path) -> str:
    return path.name[:-3] if path.name.endswith(".gz") else path.name


CASES = {
    "si": Case("si", fcc(10.26), {"Si": "Si"}, [("Si", (0, 0, 0)), ("Si", (0.25,) * 3)], 20, 160),
    "ni": Case("ni", fcc(6.65), {"Ni": "Ni"}, [("Ni", (0, 0, 0))], 30, 240),
    "ag": Case("ag", fcc(7.72), {"Ag": "Ag"}, [("Ag", (0, 0, 0))], 25, 100),
    "gaas": Case(
        "gaas",
        fcc(10.68),
        {"Ga": "Ga", "As": "As"},
        [("Ga", (0, 0, 0)), ("As", (0.25,) * 3)],
        25,
        150,
    ),
}


@dataclass
class PwRun:
    """What a pw.x run left: its stdout and its .save folder."""

    stdout: str
    save: Path

    @property
    def accuracies(self) -> list[float]:
        return [float(x) for x in re.findall(r"estimated scf accuracy\s+<\s+(\S+)", self.stdout)]

    @property
    def iterations(self) -> int | None:
        m = re.search(r"convergence has been achieved in\s+(\d+)", self.stdout)
        return int(m.group(1)) if m else None

    @property
    def fft_grid(self) -> tuple[int, int, int]:
        m = re.search(r"Dense  grid:.*FFT dimensions: \(\s*(\d+),\s*(\d+),\s*(\d+)\)", self.stdout)
        return tuple(int(x) for x in m.groups())


def pseudo_dir(root: Path) -> Path:
    """All pseudopotentials of FILES, plain (gunzipped), in ``root/pseudo``."""
    d = root / "pseudo"
    if d.is_dir():
        return d
    tmp = root / "pseudo.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    for src in FILES.values():
        dst = tmp / _plain_name(src)
        if src.name.endswith(".gz"):
            dst.write_bytes(gzip.decompress(src.read_bytes()))
        else:
            shutil.copy(src, dst)
    os.replace(tmp, d)
    return d


def run_pw(workdir: Path, text: str, timeout: float = 240) -> PwRun:
    """Run pw.x (one rank, one thread) on input ``text`` in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "pw.in").write_text(text)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        ["pw.x", "-in", "pw.in"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    (workdir / "pw.out").write_text(proc.stdout)
    prefix = re.search(r"prefix='([^']+)'", text).group(1)
    outdir = re.search(r"outdir='([^']+)'", text).group(1)
    save = (workdir / outdir / f"{prefix}.save").resolve()
    if "JOB DONE" not in proc.stdout:
        raise RuntimeError(
            f"pw.x failed in {workdir}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        )
    return PwRun(proc.stdout, save)


#: pw.x's own ACS dump: no SCF step, the .save holds the start density (+ paw.txt).
ACS_DUMP = "electron_maxstep=0, scf_must_converge=.false., startingpot='atomic',"
#: Same first-diagonalization threshold for every start (pw.x's default differs
#: between 'atomic' and 'file'), and no random noise in PAW occupations.
SAME_START = "diago_thr_init=1e-2, startingwfc='atomic',"


# The fixtures below are imported by several test modules; pytest then holds one
# definition per module, so the work is cached here to run pw.x once per session.
_DUMPS: dict[str, dict[str, PwRun]] = {}


@pytest.fixture(scope="session")
def qe_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.getbasetemp() / "qe_files"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="session")
def pseudos(qe_root) -> Path:
    return pseudo_dir(qe_root)


@pytest.fixture(scope="session")
def acs_dumps(qe_root, pseudos) -> dict[str, PwRun]:
    """pw.x's ACS (electron_maxstep=0) for each of CASES."""
    key = str(qe_root)
    if key not in _DUMPS:
        out = {}
        for name, case in CASES.items():
            wd = qe_root / f"dump_{name}"
            out[name] = run_pw(wd, case.input(Path("out"), pseudos, ACS_DUMP + SAME_START))
        _DUMPS[key] = out
    return _DUMPS[key]
