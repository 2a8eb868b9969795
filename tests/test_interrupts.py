"""rhocat.interrupts with real signals sent to this process."""

from __future__ import annotations

import os
import signal

import pytest

from rhocat import interrupts
from rhocat.errors import Terminated


@pytest.fixture
def installed():
    previous = interrupts.install()
    yield
    interrupts.end(previous)


def test_a_signal_stops_work_that_is_not_complete(installed):
    with pytest.raises(Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
    interrupts.complete()  # outside one_step (a dataset build): no effect
    with pytest.raises(Terminated):
        os.kill(os.getpid(), signal.SIGHUP)
    assert interrupts.held() == []


def test_after_complete_one_signal_is_held_a_second_one_stops(installed):
    with interrupts.one_step():
        interrupts.complete()
    os.kill(os.getpid(), signal.SIGTERM)  # held: no exception
    assert interrupts.held() == [signal.SIGTERM]
    with pytest.raises(KeyboardInterrupt):  # the user insists: a way out of a blocked print
        os.kill(os.getpid(), signal.SIGINT)


def test_end_restores_the_handlers_and_stops_holding():
    before = signal.getsignal(signal.SIGTERM)
    previous = interrupts.install()
    with interrupts.one_step():
        interrupts.complete()
    interrupts.end(previous)
    assert signal.getsignal(signal.SIGTERM) is before and interrupts.held() == []
    previous = interrupts.install()
    try:
        with pytest.raises(Terminated):  # a new command starts with nothing complete
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        interrupts.end(previous)
