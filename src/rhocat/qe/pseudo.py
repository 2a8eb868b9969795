"""Pseudopotential families: which UPF file, and which cutoffs, for each element.

A family is a directory of UPF files, optionally with SSSP-style JSON metadata
(``{"Si": {"filename": "...", "md5": "...", "cutoff_wfc": 30.0, "cutoff_rho": 240.0}}``,
cutoffs in Ry; the key ``dual`` may replace ``cutoff_rho``). Without metadata, each
``<Element>[._-]*.upf`` file is taken (one per element) and the cutoffs come from
the file's suggested minimum, else from :data:`FALLBACK_ECUTWFC_RY`.

The built-in family ``debian-pbe`` is made of the PBE files that Debian's
``quantum-espresso-data`` package ships (``/usr/share/espresso/pseudo``) plus the
PBE files gzipped under ``/usr/share/doc/quantum-espresso/examples`` (gunzipped
into a user cache). Ultrasoft and norm-conserving files are preferred over PAW
where Debian ships both, because a PAW restart also needs on-site occupations
(``paw.txt``) consistent with the density. Its files and cutoffs, with the reason
for each, are the data file ``rhocat/qe/data/debian-pbe.json`` (:data:`DEBIAN_PBE`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

from ase.data import atomic_numbers

from rhocat.errors import PseudoError
from rhocat.fileio import atomic_path

DEBIAN_PSEUDO_DIR = Path("/usr/share/espresso/pseudo")
DEBIAN_EXAMPLES_DIR = Path("/usr/share/doc/quantum-espresso/examples")

#: ecutwfc (Ry) when neither metadata nor the UPF file states one.
FALLBACK_ECUTWFC_RY = 40.0

#: The debian-pbe table (file, source, cutoffs and the reason for each): a data file.
DEBIAN_PBE_FILE = files("rhocat.qe") / "data" / "debian-pbe.json"


def load_debian_pbe(path=DEBIAN_PBE_FILE) -> dict[str, tuple[str, str, float, float, str]]:
    """element -> (file name, source, ecutwfc Ry, dual = ecutrho/ecutwfc, note).

    ``source`` is "pseudo" (/usr/share/espresso/pseudo) or a path below the
    examples folder. How the cutoffs were chosen is the file's ``source`` text.
    """
    table = json.loads(path.read_text())["elements"]
    return {
        el: (e["file"], e["source"], float(e["ecutwfc"]), float(e["dual"]), e["note"])
        for el, e in table.items()
    }


DEBIAN_PBE: dict[str, tuple[str, str, float, float, str]] = load_debian_pbe()


@dataclass(frozen=True)
class Pseudo:
    """One element's pseudopotential and its cutoffs.

    Attributes:
        element: chemical symbol.
        path: absolute path of the UPF file.
        md5: hex md5 of the file's bytes.
        kind: ``"NC"``, ``"US"`` or ``"PAW"``.
        z_valence: valence charge (electrons).
        ecutwfc: wavefunction cutoff, Ry.
        ecutrho: charge-density cutoff, Ry.
    """

    element: str
    path: Path
    md5: str
    kind: str
    z_valence: float
    ecutwfc: float
    ecutrho: float

    @property
    def filename(self) -> str:
        return self.path.name

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


class PseudoFamily(Mapping[str, Pseudo]):
    """A mapping element -> :class:`Pseudo`, with a name and a directory."""

    def __init__(self, name: str, directory: Path, pseudos: dict[str, Pseudo]):
        self.name = name
        self.directory = Path(directory)
        self._pseudos = dict(pseudos)

    def __getitem__(self, element: str) -> Pseudo:
        try:
            return self._pseudos[element]
        except KeyError:
            raise PseudoError(
                f"pseudopotential family '{self.name}' has no file for element {element!r}; "
                f"it covers: {', '.join(sorted(self._pseudos, key=_z))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._pseudos)

    def __len__(self) -> int:
        return len(self._pseudos)

    def elements(self) -> list[str]:
        """Covered elements, ordered by atomic number."""
        return sorted(self._pseudos, key=_z)

    def require(self, symbols) -> None:
        """Raise :class:`PseudoError` naming every element of ``symbols`` not covered."""
        missing = sorted({s for s in symbols if s not in self._pseudos}, key=_z)
        if missing:
            raise PseudoError(
                f"pseudopotential family '{self.name}' has no file for "
                f"{', '.join(missing)}; it covers: {', '.join(self.elements())}"
            )

    def cutoffs(self, symbols) -> tuple[float, float]:
        """(ecutwfc, ecutrho) in Ry for a structure: the maximum over its species."""
        symbols = sorted(set(symbols))
        self.require(symbols)
        return (
            max(self[s].ecutwfc for s in symbols),
            max(self[s].ecutrho for s in symbols),
        )

    def md5s(self, symbols=None) -> dict[str, str]:
        """element -> md5 for ``symbols`` (all elements by default)."""
        keys = self._pseudos if symbols is None else sorted(set(symbols))
        return {s: self[s].md5 for s in keys}

    def __repr__(self) -> str:
        return f"PseudoFamily({self.name!r}, {len(self)} elements, {str(self.directory)!r})"


def _z(symbol: str) -> int:
    return atomic_numbers.get(symbol, 999)


def md5_of(path: Path) -> str:
    """Hex md5 of a file's bytes."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_dir() -> Path:
    """Per-user cache of rhocat (``$RHOCAT_CACHE`` or ``$XDG_CACHE_HOME/rhocat``)."""
    if os.environ.get("RHOCAT_CACHE"):
        return Path(os.environ["RHOCAT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "rhocat"


def _describe(element: str, path: Path, ecutwfc: float | None, ecutrho: float | None) -> Pseudo:
    from rhocat.qe.upf import read_upf

    try:
        upf = read_upf(path)
    except PseudoError:
        raise
    except Exception as exc:  # unreadable or foreign file
        raise PseudoError(f"cannot read pseudopotential {path}: {exc}") from None
    if upf.element and upf.element.strip().capitalize() != element:
        raise PseudoError(f"{path} is a pseudopotential for {upf.element}, not {element}")
    if ecutwfc is None:
        suggested = getattr(upf, "ecutwfc", None) or 0.0
        ecutwfc = float(suggested) if suggested and suggested > 1.0 else FALLBACK_ECUTWFC_RY
    if ecutrho is None:
        suggested_rho = getattr(upf, "ecutrho", None) or 0.0
        dual = 4.0 if upf.pseudo_type == "NC" else 8.0
        ecutrho = max(float(suggested_rho), dual * ecutwfc)
    return Pseudo(
        element=element,
        path=path.resolve(),
        md5=md5_of(path),
        kind=upf.pseudo_type,
        z_valence=float(upf.z_valence),
        ecutwfc=float(ecutwfc),
        ecutrho=float(ecutrho),
    )


def debian_pbe_family() -> PseudoFamily:
    """The built-in ``debian-pbe`` family (see :data:`DEBIAN_PBE`).

    Gzipped example files are unpacked once into ``cache_dir()/pseudo/debian-pbe``.
    Elements whose file is not installed are left out.
    """
    target = cache_dir() / "pseudo" / "debian-pbe"
    pseudos = {}
    for element, (filename, source, ecutwfc, dual, _why) in DEBIAN_PBE.items():
        if source == "pseudo":
            path = DEBIAN_PSEUDO_DIR / filename
        else:
            gz = DEBIAN_EXAMPLES_DIR / source
            path = target / filename
            if not path.exists() and gz.exists():
                with atomic_path(path) as tmp, gzip.open(gz, "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        if path.exists():
            pseudos[element] = _describe(element, path, ecutwfc, dual * ecutwfc)
    if not pseudos:
        raise PseudoError(
            "the built-in family 'debian-pbe' needs Debian's Quantum ESPRESSO data: "
            "apt-get install quantum-espresso quantum-espresso-data"
        )
    return PseudoFamily("debian-pbe", DEBIAN_PSEUDO_DIR, pseudos)


_ELEMENT_RE = re.compile(r"^([A-Z][a-z]?)(?=[._\-]|$)")


def family_from_directory(directory: str | os.PathLike, name: str | None = None) -> PseudoFamily:
    """A family from a directory of UPF files, with optional SSSP-style JSON metadata.

    The first ``*.json`` in the directory whose values are dicts with a
    ``filename`` key is taken as metadata (SSSP ships ``SSSP_*.json``). Without
    it, the element is read from each file name (``Si.pbe-...UPF``, ``Si_ONCV...``)
    and two files for one element is an error (name the one to use in a JSON).
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise PseudoError(f"pseudopotential directory {directory} does not exist")
    name = name or directory.name
    meta = _find_metadata(directory)
    pseudos: dict[str, Pseudo] = {}
    if meta is not None:
        for element, entry in meta.items():
            element = element.strip().capitalize()
            path = directory / entry["filename"]
            if not path.exists():
                raise PseudoError(f"{path} is named in the family metadata but missing")
            wfc = entry.get("cutoff_wfc", entry.get("cutoff"))
            rho = entry.get("cutoff_rho")
            if rho is None and wfc is not None and entry.get("dual") is not None:
                rho = float(entry["dual"]) * float(wfc)
            pseudo = _describe(element, path, wfc, rho)
            if entry.get("md5") and entry["md5"] != pseudo.md5:
                raise PseudoError(f"md5 of {path} is {pseudo.md5}, metadata says {entry['md5']}")
            pseudos[element] = pseudo
    else:
        found: dict[str, list[Path]] = {}
        for path in sorted(directory.iterdir()):
            if path.suffix.lower() != ".upf" or not path.is_file():
                continue
            m = _ELEMENT_RE.match(path.name)
            if m and m.group(1) in atomic_numbers:
                found.setdefault(m.group(1), []).append(path)
        for element, paths in found.items():
            if len(paths) > 1:
                names = ", ".join(p.name for p in paths)
                raise PseudoError(
                    f"{directory} holds several files for {element} ({names}); "
                    "add an SSSP-style JSON naming one file per element"
                )
            pseudos[element] = _describe(element, paths[0], None, None)
    if not pseudos:
        raise PseudoError(f"no UPF files found in {directory}")
    return PseudoFamily(name, directory, pseudos)


def _find_metadata(directory: Path) -> dict | None:
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if (
            isinstance(data, dict)
            and data
            and all(isinstance(v, dict) and "filename" in v for v in data.values())
        ):
            return data
    return None


_FAMILY_CACHE: dict[str, PseudoFamily] = {}


def load_family(family: str | os.PathLike | PseudoFamily = "debian-pbe") -> PseudoFamily:
    """Resolve a family by name (``debian-pbe``), directory path, or pass one through."""
    if isinstance(family, PseudoFamily):
        return family
    key = str(family)
    if key not in _FAMILY_CACHE:
        if key == "debian-pbe":
            _FAMILY_CACHE[key] = debian_pbe_family()
        elif Path(key).expanduser().is_dir():
            _FAMILY_CACHE[key] = family_from_directory(key)
        else:
            raise PseudoError(
                f"unknown pseudopotential family {key!r}: give 'debian-pbe' or a directory "
                "of UPF files (e.g. an unpacked SSSP library)"
            )
    return _FAMILY_CACHE[key]


def family_from_files(files: Mapping[str, str | os.PathLike], name: str = "user") -> PseudoFamily:
    """A family of exactly the given UPF files, ``{element: path}`` (e.g. an ASE calculator's).

    Cutoffs (Ry) are the ones the files suggest, else rhocat's fallbacks; the
    family's directory is the files' common folder.
    """
    if not files:
        raise PseudoError("no pseudopotential files given")
    pseudos = {}
    for element, path in files.items():
        element = str(element).strip().capitalize()
        if element not in atomic_numbers:
            raise PseudoError(f"{element!r} is not an element symbol")
        path = Path(path).expanduser()
        if not path.is_file():
            raise PseudoError(f"pseudopotential file {path} of {element} does not exist")
        pseudos[element] = _describe(element, path, None, None)
    directory = Path(os.path.commonpath([str(p.path.parent) for p in pseudos.values()]))
    return PseudoFamily(name, directory, pseudos)
