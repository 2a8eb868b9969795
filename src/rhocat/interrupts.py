"""SIGINT, SIGTERM and SIGHUP: stop the work, unless the work is already done.

The CLI (:func:`rhocat.cli.main.main`) installs :func:`handler` for the three
signals: SIGINT raises ``KeyboardInterrupt``, SIGTERM and SIGHUP raise
:class:`rhocat.errors.Terminated` (a ``KeyboardInterrupt``), so that an
interrupted command kills its pw.x, removes what it half wrote and exits with
130 or 128 + the signal number.

Once a command's work is complete (its pw.x has exited by itself, its output
folder is being put in place) there is nothing left to stop, and an interrupt
must not turn that result into a failure. A command whose work is one such
step opts in with :func:`one_step`; the code that sees the step end calls
:func:`complete`. From then until the command returns, a signal is *held*:
recorded, reported by the CLI in one line, and the command ends with its own
exit code and output. A second signal while holding raises as usual (a way
out when, say, printing blocks on a full pipe).

Outside :func:`one_step` (a dataset build, an evaluation: many pw.x runs),
:func:`complete` does nothing and every signal stops the work.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rhocat.errors import Terminated

#: The signals rhocat answers: Ctrl-C, and what ``kill``, ``timeout`` and batch
#: schedulers send.
SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@dataclass
class _State:
    armed: bool = False  # inside one_step(): complete() takes effect
    complete: bool = False  # the work is done: hold signals
    held: list[int] = field(default_factory=list)  # signal numbers held


_state = _State()


def interrupt_for(signum: int) -> KeyboardInterrupt:
    """The exception a signal raises: ``KeyboardInterrupt`` for SIGINT, else
    :class:`~rhocat.errors.Terminated`."""
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Terminated(signum)


def handler(signum, frame) -> None:
    """Raise the signal's interrupt, or hold it when the work is complete (the first one)."""
    if _state.complete and not _state.held:
        _state.held.append(int(signum))
        return
    raise interrupt_for(signum)


def install() -> dict:
    """Install :func:`handler` for :data:`SIGNALS`; the previous handlers (for :func:`end`)."""
    return {sig: signal.signal(sig, handler) for sig in SIGNALS}


@contextmanager
def one_step() -> Iterator[None]:
    """The block is a command's whole work, one step that :func:`complete` marks done."""
    _state.armed = True
    try:
        yield
    finally:
        _state.armed = False


def complete() -> None:
    """The work of the enclosing :func:`one_step` is done: hold signals from now on."""
    if _state.armed:
        _state.complete = True


def hold(exc: BaseException) -> bool:
    """For an interrupt raised just after the step ended by itself (a pw.x that exited
    before the signal was handled): inside :func:`one_step`, record it as held, mark the
    work complete and return True; otherwise False (the caller re-raises)."""
    if not _state.armed or not isinstance(exc, KeyboardInterrupt) or _state.held:
        return False
    _state.held.append(getattr(exc, "signum", signal.SIGINT))
    _state.complete = True
    return True


def held() -> list[int]:
    """The signals held since :func:`complete` (numbers)."""
    return list(_state.held)


def end(previous: dict, *, for_good: bool = False) -> None:
    """Stop holding and restore the ``previous`` handlers; with ``for_good`` after
    completed work (the process is about to exit) ignore the signals instead, so that
    none arriving in its last moments turns the finished command into a failure."""
    ignore = for_good and _state.complete
    for sig, old in previous.items():
        signal.signal(sig, signal.SIG_IGN if ignore else old)
    _state.complete = False
    _state.held = []
