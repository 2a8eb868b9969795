"""Parsers for pw.x's stdout (the SCF history) and its ``data-file-schema.xml``.

Energies in the stdout are Ry; in the XML they are Hartree and are converted
here: every energy this module returns is in Ry unless its name says eV.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rhocat.units import HA_RY, RY_EV

_ACCURACY = re.compile(r"estimated scf accuracy\s+<\s+([-+0-9.EeDd]+)\s+Ry")
_TOTAL = re.compile(r"^[!\s]\s*total energy\s+=\s+([-+0-9.EeDd]+)\s+Ry", re.M)
_FINAL = re.compile(r"^!\s+total energy\s+=\s+([-+0-9.EeDd]+)\s+Ry", re.M)
_CONVERGED = re.compile(r"convergence has been achieved in\s+(\d+)\s+iterations")
_NOT_CONVERGED = re.compile(r"convergence NOT achieved after\s+(\d+)\s+iterations")
_ITERATION = re.compile(r"^\s*iteration #\s*(\d+)", re.M)
_WALL = re.compile(r"PWSCF\s*:.*?([0-9.]+m?\s*[0-9.]*s)\s+WALL")
_VERSION = re.compile(r"Program PWSCF v\.(\S+) starts")
_FFT = re.compile(r"FFT dimensions:\s*\(\s*(\d+),\s*(\d+),\s*(\d+)\)")
_NELEC = re.compile(r"number of electrons\s+=\s+([0-9.]+)")
_FERMI = re.compile(r"the Fermi energy is\s+([-+0-9.]+)\s+ev")
_ERROR = re.compile(r"%{20,}\s*\n(.*?)\n\s*%{20,}", re.S)
_MAGNETIZATION = re.compile(r"^\s*(total|absolute) magnetization\s*=\s*(-?[\d.]+)", re.M)


@dataclass
class ScfHistory:
    """What pw.x's stdout says about its SCF cycle(s).

    Attributes:
        scf_accuracy_ry: "estimated scf accuracy" per iteration of the first SCF cycle, Ry.
        energies_ry: "total energy" per iteration of the first SCF cycle, Ry.
        converged: True when the (last) SCF cycle converged and pw.x finished.
        iterations: iterations of the first SCF cycle.
        energy_ry: final ("!") total energy of the last SCF cycle, Ry.
        fermi_energy_ev: last Fermi energy printed, eV.
        n_electrons: number of valence electrons.
        fft_grid: dense FFT grid (n1, n2, n3).
        pw_wall_s: pw.x's own wall time, s.
        qe_version: e.g. ``6.7MaX``.
        error: pw.x's error message when it stopped with one.
        n_scf_cycles: SCF cycles in the run (1 for scf, more for relaxations).
        finished: pw.x printed its "JOB DONE" line.
        initial_density: pw.x's own account of its start: ``"file"`` (read from
            ``charge-density.dat``), ``"uniform"`` (it could not use the file and fell
            back to a uniform charge), ``"atomic"`` (superposition of free atoms), or
            None when the output does not say.
    """

    scf_accuracy_ry: list[float] = field(default_factory=list)
    energies_ry: list[float] = field(default_factory=list)
    converged: bool = False
    iterations: int = 0
    energy_ry: float | None = None
    fermi_energy_ev: float | None = None
    n_electrons: float | None = None
    fft_grid: tuple[int, int, int] | None = None
    pw_wall_s: float | None = None
    qe_version: str | None = None
    error: str | None = None
    n_scf_cycles: int = 0
    finished: bool = False
    initial_density: str | None = None


def initial_density(stdout: str) -> str | None:
    """How pw.x says it started: ``file``, ``uniform``, ``atomic`` or None (see ScfHistory).

    QE 6.7 prints "The initial density is read from file" before trying; when the file
    is unusable it then prints "Starting from uniform charge" and goes on.
    """
    if "Starting from uniform charge" in stdout:
        return "uniform"
    if "The initial density is read from file" in stdout:
        return "file"
    if "Initial potential from superposition of free atoms" in stdout:
        return "atomic"
    return None


def final_magnetization(stdout: str) -> tuple[float | None, float | None]:
    """The last total and absolute magnetization a spin-polarised pw.x run printed (Bohr
    magneton per cell), each None when pw.x printed none (``nspin = 1``)."""
    found: dict[str, float | None] = {"total": None, "absolute": None}
    for kind, value in _MAGNETIZATION.findall(stdout):
        found[kind] = float(value)
    return found["total"], found["absolute"]


class LiveHistory:
    """Follows pw.x's stdout line by line; :meth:`feed` returns ``(iteration, total energy
    Ry, estimated scf accuracy Ry)`` once an SCF iteration has printed both, else None."""

    def __init__(self) -> None:
        self.iteration = 0
        self._energy: float | None = None

    def feed(self, line: str) -> tuple[int, float, float] | None:
        m = _TOTAL.match(line)
        if m:
            self._energy = _float(m.group(1))
            return None
        m = _ACCURACY.search(line)
        if m and self._energy is not None:
            self.iteration += 1
            energy, self._energy = self._energy, None
            return self.iteration, energy, _float(m.group(1))
        return None


def _float(text: str) -> float:
    return float(text.replace("D", "e").replace("d", "e"))


def _seconds(text: str) -> float:
    text = text.strip()
    total = 0.0
    if "h" in text:
        h, text = text.split("h", 1)
        total += 3600 * float(h)
    if "m" in text:
        m, text = text.split("m", 1)
        total += 60 * float(m)
    text = text.strip().rstrip("s").strip()
    return total + (float(text) if text else 0.0)


def _cycles(stdout: str) -> list[str]:
    """Split the output into SCF cycles (each starts at 'iteration #  1')."""
    starts = [m.start() for m in _ITERATION.finditer(stdout) if m.group(1) == "1"]
    if not starts:
        return []
    ends = starts[1:] + [len(stdout)]
    return [stdout[a:b] for a, b in zip(starts, ends, strict=True)]


def parse_stdout(stdout: str) -> ScfHistory:
    """Parse pw.x's stdout; never raises on a truncated or failed run."""
    h = ScfHistory()
    cycles = _cycles(stdout)
    h.n_scf_cycles = len(cycles)
    if cycles:
        first = cycles[0]
        h.scf_accuracy_ry = [_float(x) for x in _ACCURACY.findall(first)]
        h.energies_ry = [_float(x) for x in _TOTAL.findall(first)]
        conv = _CONVERGED.search(first)
        not_conv = _NOT_CONVERGED.search(first)
        if conv:
            h.iterations = int(conv.group(1))
        elif not_conv:
            h.iterations = int(not_conv.group(1))
        else:
            h.iterations = len(_ITERATION.findall(first))
        last = cycles[-1]
        h.converged = bool(_CONVERGED.search(last)) and not _NOT_CONVERGED.search(stdout)
    finals = _FINAL.findall(stdout)
    if finals:
        h.energy_ry = _float(finals[-1])
    fermi = _FERMI.findall(stdout)
    if fermi:
        h.fermi_energy_ev = float(fermi[-1])
    m = _NELEC.search(stdout)
    if m:
        h.n_electrons = float(m.group(1))
    m = _FFT.search(stdout)
    if m:
        h.fft_grid = tuple(int(x) for x in m.groups())
    m = _WALL.search(stdout)
    if m:
        h.pw_wall_s = _seconds(m.group(1))
    m = _VERSION.search(stdout)
    if m:
        h.qe_version = m.group(1)
    m = _ERROR.search(stdout)
    if m:
        h.error = " ".join(line.strip() for line in m.group(1).splitlines() if line.strip())
    h.finished = "JOB DONE" in stdout
    h.initial_density = initial_density(stdout)
    if not h.finished:
        h.converged = False
    return h


@dataclass
class XmlResults:
    """Results from ``data-file-schema.xml`` (energies Ry / eV as named)."""

    energy_ry: float | None
    fermi_energy_ev: float | None
    n_electrons: float | None
    fft_grid: tuple[int, int, int] | None
    eigenvalues_ev: np.ndarray | None  # (nspin, nk, nbands)
    kpoint_weights: np.ndarray | None  # (nk,)
    band_gap_ev: float | None
    positions_bohr: np.ndarray | None
    cell_bohr: np.ndarray | None
    symbols: list[str] | None


def _text_float(root, path: str) -> float | None:
    node = root.find(path)
    return None if node is None or node.text is None else float(node.text)


def parse_xml(path: str | Path) -> XmlResults:
    """Parse ``<prefix>.save/data-file-schema.xml`` (QE ≥ 6.4)."""
    root = ET.parse(path).getroot()
    out = root.find("output")
    if out is None:
        raise ValueError(f"{path} has no <output> section")
    energy = _text_float(out, "total_energy/etot")
    fermi = _text_float(out, "band_structure/fermi_energy")
    nelec = _text_float(out, "band_structure/nelec")
    grid_node = out.find("basis_set/fft_grid")
    grid = (
        tuple(int(grid_node.attrib[k]) for k in ("nr1", "nr2", "nr3"))
        if grid_node is not None
        else None
    )
    lsda = (out.findtext("band_structure/lsda") or "false").strip() == "true"
    eigs, weights = [], []
    for ks in out.findall("band_structure/ks_energies"):
        kp = ks.find("k_point")
        weights.append(float(kp.attrib.get("weight", 1.0)))
        eigs.append([float(x) for x in ks.findtext("eigenvalues").split()])
    eig = None
    if eigs:
        arr = np.array(eigs) * HA_RY * RY_EV
        if lsda:
            nb = arr.shape[1] // 2
            arr = np.stack([arr[:, :nb], arr[:, nb:]])
        else:
            arr = arr[None]
        eig = arr
    fermi_ev = None if fermi is None else fermi * HA_RY * RY_EV
    gap = band_gap(eig, fermi_ev) if eig is not None and fermi_ev is not None else None
    symbols, positions = [], []
    for atom in out.findall("atomic_structure/atomic_positions/atom"):
        symbols.append(atom.attrib["name"])
        positions.append([float(x) for x in atom.text.split()])
    cell = [
        [float(x) for x in (out.findtext(f"atomic_structure/cell/a{i}") or "").split()]
        for i in (1, 2, 3)
    ]
    return XmlResults(
        energy_ry=None if energy is None else energy * HA_RY,
        fermi_energy_ev=fermi_ev,
        n_electrons=nelec,
        fft_grid=grid,
        eigenvalues_ev=eig,
        kpoint_weights=np.array(weights) if weights else None,
        band_gap_ev=gap,
        positions_bohr=np.array(positions) if positions else None,
        cell_bohr=np.array(cell) if all(len(c) == 3 for c in cell) else None,
        symbols=symbols or None,
    )


def band_gap(eigenvalues_ev: np.ndarray, fermi_energy_ev: float) -> float:
    """Band gap (eV) with ASE's tool: 0 for a metal. ``eigenvalues_ev``: (nspin, nk, nbands)."""
    from ase.dft.bandgap import bandgap

    gap, _, _ = bandgap(eigenvalues=eigenvalues_ev, efermi=fermi_energy_ev, output=None)
    return float(gap)
