"""rhocat's units: one bohr and one rydberg for the whole package (like ``ase.units``).

rhocat works in Å where ASE does (structures) and in bohr, Ry and e/bohr³ where
pw.x does (G vectors, densities, energies). Every conversion between the two
uses the constants below, which are pw.x's own: Quantum ESPRESSO 6.7 (Debian's
pw.x 6.7MaX) uses CODATA 2018. Measured: a cell vector given to pw.x as
2.715 Å is stored as 5.130606428358965 bohr in ``data-file-schema.xml``, which
is 2.715 / 0.529177210903 (tests/qe/test_parse.py checks it on a real file); with
these values rhocat's ACS of a structure given in Å equals pw.x's own start to
< 1e-13 (tests/cli/test_cli_qe.py::test_acs_folder_equals_pw_own_acs_dump).
"""

from __future__ import annotations

#: Bohr radius in Å (CODATA 2018; pw.x 6.7's BOHR_RADIUS_ANGS).
BOHR_ANGSTROM = 0.529177210903
#: Å -> bohr.
BOHR_PER_ANGSTROM = 1.0 / BOHR_ANGSTROM
#: Rydberg in eV (CODATA 2018; pw.x 6.7's RYTOEV).
RY_EV = 13.605693122994
#: Hartree in Ry.
HA_RY = 2.0

__all__ = ["BOHR_ANGSTROM", "BOHR_PER_ANGSTROM", "HA_RY", "RY_EV"]
