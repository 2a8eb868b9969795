"""Messages and help: defaults and units in --help, one-line warnings, live SCF history."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import pytest
from ase.build import bulk

from rhocat.cli.main import build_parser, main

RHOCAT = [sys.executable, "-m", "rhocat.cli.main"]


def subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize("command", ["scf", "acs", "predict", "evaluate", "report"])
def test_every_option_has_help_and_states_its_default(command):
    for action in subcommand(command)._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        name = action.option_strings[-1]
        assert action.help, f"{command} {name} has no help"
        takes_value = action.nargs != 0
        if takes_value and not action.required:
            assert "default" in action.help, f"{command} {name}: no default in {action.help!r}"


@pytest.mark.parametrize(
    "command, option, unit",
    [
        ("scf", "--timeout", "seconds"),
        ("scf", "--ecutwfc", "Ry"),
        ("predict", "--ecutwfc", "Ry"),
        ("predict", "--ecutrho", "Ry"),
        ("evaluate", "--timeout", "seconds"),
        ("acs", "--ecutwfc", "Ry"),
    ],
)
def test_options_with_units_state_them(command, option, unit):
    action = next(a for a in subcommand(command)._actions if option in a.option_strings)
    assert unit in action.help


def test_evaluate_help_names_commands_that_exist():
    text = subcommand("evaluate").format_help()
    assert "data build" not in text and "rhocat dft run" in text
    assert "dft" in build_parser().format_help()


@pytest.mark.needs_upf
def test_allow_unseen_warning_is_one_line(tmp_path, capsys):
    from rhocat.models import RadialModel
    from rhocat.train import save_checkpoint
    from rhocat.train.checkpoint import checkpoint_dict

    ckpt = save_checkpoint(tmp_path / "r.pt", checkpoint_dict(RadialModel({}, [14, 6])))
    bulk("Ge", "diamond", a=5.66).write(tmp_path / "ge.cif")
    args = ["predict", str(ckpt), str(tmp_path / "ge.cif"), "-o", str(tmp_path / "o")]
    assert main([*args, "--allow-unseen", "--ecutwfc", "15"]) == 0
    err = capsys.readouterr().err
    warning_lines = [line for line in err.splitlines() if "warning" in line.lower()]
    assert warning_lines and all(line.startswith("rhocat: warning: ") for line in warning_lines)
    assert "UserWarning" not in err and ".py:" not in err


@pytest.mark.needs_pw
def test_scf_history_is_shown_live(tmp_path):
    """Rows appear as pw.x writes its iterations, not after it ends."""
    bulk("Si", "diamond", a=5.43).write(tmp_path / "si.cif")
    proc = subprocess.Popen(
        RHOCAT + ["scf", str(tmp_path / "si.cif"), "--ecutwfc", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    header = proc.stdout.readline()
    assert "time (s)" in header
    first = proc.stdout.readline()
    seen_at = time.monotonic()
    running = proc.poll() is None
    rest, err = proc.communicate(timeout=600)
    ended_at = time.monotonic()
    assert proc.returncode == 0, err
    it, energy, accuracy, t = first.split()
    assert it == "1" and float(energy) < 0 and float(accuracy) > 0
    assert running and ended_at - seen_at > 0.2  # shown while pw.x was still iterating
    rows = [line for line in rest.splitlines() if line.split() and line.split()[0].isdigit()]
    assert len(rows) >= 3 and "converged" in rest
