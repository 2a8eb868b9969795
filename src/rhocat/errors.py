"""Errors that are the user's to fix.

Every :class:`RhocatError` is reported by the CLI as one clear message and exit
code 2, never as a traceback. Code that detects bad input (a missing
pseudopotential, a truncated density file, an unknown element) raises one of
these; everything else is a bug and may surface as a traceback.
"""


class RhocatError(Exception):
    """Bad input or an environment problem the user can fix (CLI exit code 2)."""


class InputError(RhocatError):
    """A file or argument that rhocat cannot use as given."""


class MissingToolError(RhocatError):
    """An external program (pw.x, mpirun) is not installed."""


class PseudoError(RhocatError):
    """A pseudopotential family does not cover an element, or a file is unreadable."""


class DensityFileError(RhocatError):
    """A charge-density or paw.txt file is truncated, foreign or inconsistent."""


class ModelError(RhocatError):
    """A checkpoint that cannot be used for this structure (bad file, unseen element)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread like Ctrl-C (SIGINT) so that the
    same clean-up runs: pw.x's processes are killed, half-written outputs removed.

    Installed by the CLI (:func:`rhocat.cli.main.main`); ``signum`` is the signal.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = int(signum)
