"""Faults with real signals and real pw.x: no pw.x survives rhocat, no folder is left behind."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ase.build import bulk

pytestmark = pytest.mark.needs_pw

RHOCAT = [sys.executable, "-m", "rhocat.cli.main"]


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(comm, ppid, state) of a live process, None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return comm, int(fields[1]), fields[0]


def descendants(root: int) -> dict[int, str]:
    """pid -> command name of every live process below ``root``."""
    children: dict[int, list[int]] = {}
    names = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                children.setdefault(st[1], []).append(int(entry.name))
                names[int(entry.name)] = st[0]
    out, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out[child] = names[child]
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[2] not in ("Z", "X")  # a zombie has ended


def wait_for_pw(proc: subprocess.Popen, timeout: float = 60.0) -> dict[int, str]:
    """Poll until pw.x runs below ``proc``; the pw.x and mpirun pids then."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = {p: n for p, n in descendants(proc.pid).items() if n in ("pw.x", "mpirun")}
        if "pw.x" in found.values():
            time.sleep(0.3)  # let every rank start
            return {p: n for p, n in descendants(proc.pid).items() if n in ("pw.x", "mpirun")}
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"pw.x never started under rhocat: {proc.communicate()}")


def assert_all_end(pids, within: float = 10.0) -> None:
    end = time.monotonic() + within
    while time.monotonic() < end and any(alive(p) for p in pids):
        time.sleep(0.1)
    survivors = {p: _stat(p) for p in pids if alive(p)}
    for p in survivors:  # do not leave them running for the next test
        os.kill(p, signal.SIGKILL)
    assert not survivors, f"pw.x processes survived rhocat: {survivors}"


def rhocat_temporaries(tmp: Path) -> list[Path]:
    """rhocat's run folders in ``tmp`` (Open MPI leaves its own ompi.* session folders)."""
    return sorted(tmp.glob("rhocat-pw-*"))


@pytest.fixture
def si_file(tmp_path):
    path = tmp_path / "si.cif"
    bulk("Si", "diamond", a=5.43).write(path)
    return path


def start_long_scf(si_file, tmp_path, ranks: int, *extra) -> subprocess.Popen:
    """`rhocat scf` at 80 Ry: minutes of pw.x, which the test cuts short."""
    env = dict(os.environ, RHOCAT_RANKS=str(ranks), TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen(
        RHOCAT + ["scf", str(si_file), "--ecutwfc", "80", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("ranks", [1, 2])
def test_sigterm_kills_every_pw_process_and_the_temp_folder(si_file, tmp_path, ranks):
    proc = start_long_scf(si_file, tmp_path, ranks)
    pw = wait_for_pw(proc)
    assert list(pw.values()).count("pw.x") == ranks
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert_all_end(pw)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "terminated by SIGTERM" in err and "Traceback" not in err
    assert rhocat_temporaries(tmp_path / "tmp") == []  # the rhocat-pw-* folder is gone


@pytest.mark.parametrize("ranks", [1, 2])
def test_sigkill_of_rhocat_ends_pw(si_file, tmp_path, ranks):
    proc = start_long_scf(si_file, tmp_path, ranks, "--workdir", str(tmp_path / "w"))
    pw = wait_for_pw(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert_all_end(pw)


def run(args, env=None):
    return subprocess.run(RHOCAT + args, capture_output=True, text=True, env=env)


def test_scf_temp_folder_removed_unless_kept(si_file, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    p = run(["scf", str(si_file), "--ecutwfc", "20", "--json"], env=env)
    assert p.returncode == 0, p.stderr
    assert rhocat_temporaries(tmp) == []
    assert json.loads(p.stdout)["converged"] is True
    # validation that fails before pw.x starts leaves nothing either
    p = run(["scf", str(si_file), "--start", str(tmp_path / "nothing")], env=env)
    assert p.returncode == 2 and rhocat_temporaries(tmp) == []
    p = run(["scf", str(si_file), "--ecutwfc", "20", "--keep-workdir"], env=env)
    assert p.returncode == 0, (p.stdout, p.stderr)
    kept = rhocat_temporaries(tmp)
    assert len(kept) == 1 and (kept[0] / "pw.out").is_file() and str(kept[0]) in p.stderr


def test_scf_default_timeout_scales_with_the_cell_and_is_in_help():
    from rhocat.qe.scf import default_timeout_s

    assert default_timeout_s(2) == pytest.approx(600 + 60 * 2**1.5)
    assert default_timeout_s(216) > 100 * default_timeout_s(2) / 2
    help_text = " ".join(run(["scf", "--help"]).stdout.split())
    assert "--timeout TIMEOUT wall-clock limit in seconds" in help_text
    assert "[default: 600 + 60 x atoms^1.5, e.g. 770 s for 2 atoms]" in help_text
    assert "--no-timeout" in help_text


def test_scf_without_timeout_runs_under_the_cell_scaled_limit(si_file):
    """No --timeout: the run had 600 + 60 x 2^1.5 = 769.7 s (its record says so)."""
    p = run(["scf", str(si_file), "--ecutwfc", "20", "--json"])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["timeout_s"] == pytest.approx(600 + 60 * 2**1.5)


def test_scf_interrupt_after_pw_finished_keeps_the_result(si_file, tmp_path):
    """SIGTERM handled after pw.x has exited by itself: the run counts (exit 0, full table).

    rhocat is stopped (SIGSTOP) while pw.x runs on; pw.x finishes and stays a zombie
    (rhocat cannot reap it), the SIGTERM is sent, then SIGCONT: rhocat handles the
    signal while waiting for a pw.x that has already ended.
    """
    work = tmp_path / "w"
    proc = subprocess.Popen(
        RHOCAT + ["scf", str(si_file), "--ecutwfc", "20", "--workdir", str(work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, RHOCAT_RANKS="1"),
    )
    pw = wait_for_pw(proc)
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        assert "JOB DONE" not in (work / "pw.out").read_text()  # stopped while pw.x ran
        end = time.monotonic() + 300
        while any(alive(p) for p in pw) and time.monotonic() < end:
            time.sleep(0.1)
        assert "JOB DONE" in (work / "pw.out").read_text()  # pw.x finished, output complete
        os.kill(proc.pid, signal.SIGTERM)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err.strip() == "rhocat: SIGTERM arrived after the work was complete: ignored"
    last = out.strip().splitlines()[-1]
    assert last.startswith("converged; ")
    rows = [line for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert len(rows) == int(last.split("; ")[1].split()[0]) >= 4  # every iteration shown


class SignalOnFirstWrite(io.StringIO):
    """A stdout that sends ``signum`` to this process at the first write: a real signal
    at the moment the command prints its result, after its work is done."""

    def __init__(self, signum: int):
        super().__init__()
        self.signum = signum
        self.sent = False

    def write(self, text: str) -> int:
        if not self.sent:
            self.sent = True
            os.kill(os.getpid(), self.signum)
        return super().write(text)


def test_scf_interrupt_while_printing_the_result_keeps_it(si_file, tmp_path, monkeypatch, capsys):
    """Ctrl-C (a real SIGINT) while `rhocat scf --json` prints: exit 0, the whole JSON."""
    stdout = SignalOnFirstWrite(signal.SIGINT)
    monkeypatch.setattr(sys, "stdout", stdout)
    rc, err = main_rc(["scf", si_file, "--ecutwfc", "20", "--json"], capsys)
    assert stdout.sent and rc == 0, err
    assert err.strip() == "rhocat: SIGINT arrived after the work was complete: ignored"
    assert json.loads(stdout.getvalue())["converged"] is True


def test_predict_interrupt_after_the_folder_is_written_keeps_it(
    si_file, tmp_path, checkpoint, monkeypatch, capsys
):
    """SIGTERM when `rhocat predict` prints its summary (the folder is in place): exit 0."""
    from rhocat.qe.density import read_charge_density

    stdout = SignalOnFirstWrite(signal.SIGTERM)
    monkeypatch.setattr(sys, "stdout", stdout)
    out = tmp_path / "si.save"
    rc, err = main_rc(["predict", checkpoint, si_file, "-o", out], capsys)
    assert stdout.sent and rc == 0, err
    assert err.strip() == "rhocat: SIGTERM arrived after the work was complete: ignored"
    assert stdout.getvalue().startswith(f"si: {out} (8 electrons")
    assert read_charge_density(out / "charge-density.dat").rho_g.shape[0] == 1
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN  # in-process: restored


def test_predict_of_several_structures_interrupted_while_printing(
    si_file, tmp_path, checkpoint, monkeypatch, capsys
):
    """Two structures: every folder written, then SIGTERM at the summary: exit 0."""
    folder = tmp_path / "structures"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.cif").write_bytes(si_file.read_bytes())
    stdout = SignalOnFirstWrite(signal.SIGTERM)
    monkeypatch.setattr(sys, "stdout", stdout)
    rc, err = main_rc(["predict", checkpoint, folder, "-o", tmp_path / "out"], capsys)
    assert stdout.sent and rc == 0, err
    assert err.strip().endswith("rhocat: SIGTERM arrived after the work was complete: ignored")
    heads = [line for line in stdout.getvalue().splitlines() if not line.startswith(" ")]
    assert [line.split(":")[0] for line in heads] == ["a", "b"]  # both summaries printed


@pytest.fixture
def checkpoint(tmp_path):
    """A real checkpoint of an untrained radial model (Si, C): loads in milliseconds."""
    from rhocat.models import RadialModel
    from rhocat.train import save_checkpoint
    from rhocat.train.checkpoint import checkpoint_dict

    return save_checkpoint(tmp_path / "radial.pt", checkpoint_dict(RadialModel({}, [14, 6])))


def main_rc(args, capsys) -> tuple[int, str]:
    from rhocat.cli.main import main

    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize(
    "args, words",
    [
        (["--ranks", "0"], "ranks"),
        (["--timeout", "-5"], "timeout"),
        (["--timeout", "nan"], "timeout"),
        (["--ecutwfc", "0"], "ecutwfc"),
        (["--ecutwfc", "-20"], "ecutwfc"),
    ],
)
def test_scf_numeric_options_are_validated(si_file, tmp_path, args, words, capsys):
    rc, err = main_rc(["scf", si_file, "--workdir", tmp_path / "w", *args], capsys)
    assert rc == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "w" / "pw.out").exists()  # pw.x never started


def test_predict_cutoffs_are_validated(si_file, tmp_path, checkpoint, capsys):
    out = tmp_path / "o"
    rc, err = main_rc(
        ["predict", checkpoint, si_file, "-o", out, "--ecutwfc", "30", "--ecutrho", "100"], capsys
    )
    assert rc == 2 and "4 x ecutwfc" in err and not out.exists()
    rc, err = main_rc(["predict", checkpoint, si_file, "-o", out, "--ecutwfc", "0"], capsys)
    assert rc == 2 and "ecutwfc must be a positive number" in err and not out.exists()


def dead_pid() -> int:
    """The pid of a process that has ended (as one SIGKILLed mid-write would have)."""
    p = subprocess.Popen(["sleep", "30"])
    p.kill()
    p.wait()
    return p.pid


def test_predict_removes_stale_hidden_folders_of_a_killed_run(
    si_file, tmp_path, checkpoint, capsys
):
    out = tmp_path / "si.save"
    stale = tmp_path / f".si.save.tmp-{dead_pid()}-abcd1234"
    stale.mkdir()
    (stale / "charge-density.dat").write_bytes(b"half")
    live = tmp_path / f".si.save.tmp-{os.getpid()}-abcd1234"  # a running writer: untouched
    live.mkdir()
    rc, err = main_rc(["predict", checkpoint, si_file, "-o", out], capsys)
    assert rc == 0, err
    assert not stale.exists() and live.exists()
    assert sorted(q.name for q in tmp_path.iterdir()) == sorted(
        [live.name, "radial.pt", "si.cif", "si.save"]
    )


def test_predict_sigkill_mid_write_leaves_a_folder_the_next_run_removes(
    si_file, tmp_path, checkpoint, capsys
):
    """A real `rhocat predict` SIGKILLed while its hidden folder exists (stopped with
    SIGSTOP the moment the folder appears, then killed): the next run removes it."""
    for attempt in range(5):
        out = tmp_path / f"try{attempt}" / "si.save"
        out.parent.mkdir()
        proc = subprocess.Popen(RHOCAT + ["predict", str(checkpoint), str(si_file), "-o", str(out)])
        hidden = []
        while proc.poll() is None and not hidden:
            hidden = [q for q in out.parent.iterdir() if q.name.startswith(".si.save.tmp-")]
            time.sleep(0.001)
        if hidden:
            os.kill(proc.pid, signal.SIGSTOP)
            if hidden[0].is_dir() and not out.exists():
                break  # caught mid-write
        proc.kill()
        proc.wait()
    else:
        pytest.fail("rhocat predict was never caught while writing")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert [q.name for q in out.parent.iterdir()] == [hidden[0].name]  # left by SIGKILL
    rc, err = main_rc(["predict", checkpoint, si_file, "-o", out], capsys)
    assert rc == 0, err
    assert [q.name for q in out.parent.iterdir()] == ["si.save"]


def test_predict_sigterm_leaves_no_hidden_folder(si_file, tmp_path):
    """SIGTERM at a random moment of `rhocat predict`: either the folder is complete or
    nothing is there; never a hidden temporary."""
    from rhocat.qe.density import read_charge_density

    for delay in (1.0, 3.0):
        out = tmp_path / f"o{delay}"
        proc = subprocess.Popen(
            RHOCAT + ["predict", str(si_file), "-o", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        hidden = [q.name for q in tmp_path.iterdir() if q.name.startswith(".")]
        assert hidden == []
        if proc.returncode == 0 or out.exists():
            assert read_charge_density(out / "charge-density.dat").miller.shape[1] == 3
        else:  # before rhocat's handler is installed (imports), Python's default: -15
            assert proc.returncode in (128 + signal.SIGTERM, -signal.SIGTERM)
