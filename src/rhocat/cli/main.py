"""Entry point of the ``rhocat`` command.

Each stage registers its own sub-commands in a module of this package
(``rhocat.cli.<stage>``) that defines ``register(subparsers)``; a sub-command
sets ``func`` to a callable taking the parsed namespace and returning an exit
code. :class:`rhocat.errors.RhocatError` becomes one line on stderr and exit
code 2. SIGINT, SIGTERM and SIGHUP stop a command (exit 130, 128 + the signal)
unless its work was already complete (:mod:`rhocat.interrupts`).
"""

from __future__ import annotations

import argparse
import errno
import re
import signal
import sys
import warnings

from rhocat import interrupts
from rhocat.cli import data, demo, evaluate, predict, qe, report, split, structures, train
from rhocat.errors import RhocatError, Terminated

#: Modules that contribute sub-commands, in the order of the data flow.
COMMAND_MODULES = (structures, split, qe, data, train, predict, evaluate, report, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rhocat",
        description="Learn Kohn-Sham charge densities and warm-start Quantum ESPRESSO from them.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def _version() -> str:
    from rhocat import __version__

    return f"rhocat {__version__}"


#: File-system errors that are the user's to fix (a place rhocat cannot write to).
USER_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "EACCES",
        "EPERM",
        "EROFS",
        "ENOSPC",
        "EDQUOT",
        "ENOTDIR",
        "EISDIR",
        "EEXIST",
        "ENAMETOOLONG",
        "EFBIG",
        "EXDEV",
        "EBUSY",
        "EIO",
        "ENOENT",
    )
    if hasattr(errno, name)
)
_HIDDEN_TMP = re.compile(r"\.([^/]+?)\.tmp-\d+-[^/]*")


def os_error_message(exc: OSError, output: str | None = None) -> str:
    """One line for a file-system error, naming the user's path (not rhocat's hidden
    temporary name ``.NAME.tmp-PID-XXXX``); ``output`` when the error names no file (a
    write that ran out of space)."""
    name = exc.filename if exc.filename is not None else (output or "")
    name = _HIDDEN_TMP.sub(r"\1", str(name))
    reason = exc.strerror or str(exc)
    return f"{name}: {reason}" if name else reason


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python warnings as ``rhocat: warning: ...`` on one line (no file, no line number)."""
    text = " ".join(str(message).split())
    print(f"rhocat: warning: {text}", file=file or sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = interrupts.install()
    show = warnings.showwarning
    warnings.showwarning = _one_line_warning
    try:
        return int(args.func(args) or 0)
    except RhocatError as exc:
        print(f"rhocat: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in USER_ERRNOS:
            raise
        output = getattr(args, "output", None) or getattr(args, "workdir", None)
        print(f"rhocat: error: {os_error_message(exc, output)}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"rhocat: terminated by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("rhocat: interrupted", file=sys.stderr)
        return 130
    finally:
        for signum in interrupts.held():
            name = signal.Signals(signum).name
            print(f"rhocat: {name} arrived after the work was complete: ignored", file=sys.stderr)
        # as the process's entry point (argv None) a finished command ignores late signals
        interrupts.end(previous, for_good=argv is None)
        warnings.showwarning = show


if __name__ == "__main__":
    sys.exit(main())
