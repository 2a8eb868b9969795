"""Running pw.x: a subprocess in its own work directory, with MPI ranks and a timeout.

``mpirun`` gets ``--allow-run-as-root`` only when running as root and
``--oversubscribe`` only when more ranks than cores are asked for;
``OMP_NUM_THREADS=1`` is always set (MPI ranks, not threads, use the cores).

pw.x (or mpirun) runs in its own session, so that a Ctrl-C in the terminal
reaches rhocat only. rhocat therefore answers for it:

- on a timeout, an exception or a signal that Python turns into an exception
  (SIGINT; SIGTERM/SIGHUP once :func:`rhocat.cli.main.main` installed its
  handler), every process of that session is killed (mpirun puts each rank in
  a process group of its own, so killing mpirun's group alone is not enough);
- an interrupt handled after pw.x had exited by itself stops nothing: inside
  :func:`rhocat.interrupts.one_step` (``rhocat scf``) the run counts as complete;
- when rhocat itself dies without a chance to clean up (SIGKILL, a crash), the
  kernel sends SIGKILL to pw.x/mpirun (Linux ``prctl(PR_SET_PDEATHSIG)``); the
  MPI ranks end when mpirun does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rhocat import interrupts
from rhocat.errors import MissingToolError
from rhocat.fileio import atomic_write_text

INSTALL_HINT = (
    "install Quantum ESPRESSO: apt-get install quantum-espresso quantum-espresso-data "
    "(or `make setup`), or put pw.x on PATH"
)


@dataclass
class RawRun:
    """What a pw.x process left behind: its stdout, exit code and wall time (s)."""

    stdout: str
    returncode: int
    wall_s: float
    timed_out: bool
    command: list[str]


def find_executable(name: str = "pw.x") -> str:
    """Absolute path of ``name`` on PATH, or :class:`MissingToolError` with an install hint."""
    path = shutil.which(name)
    if path is None:
        raise MissingToolError(f"{name} not found on PATH; {INSTALL_HINT}")
    return path


def default_ranks() -> int:
    """MPI ranks per pw.x run: ``$RHOCAT_RANKS`` or the number of cores (at most 4)."""
    env = os.environ.get("RHOCAT_RANKS")
    if env:
        return max(1, int(env))
    return max(1, min(4, os.cpu_count() or 1))


def pw_command(ranks: int, input_name: str = "pw.in", executable: str = "pw.x") -> list[str]:
    """The command line that runs pw.x on ``ranks`` MPI ranks."""
    exe = find_executable(executable)
    if ranks <= 1:
        return [exe, "-in", input_name]
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise MissingToolError("mpirun not found; install openmpi-bin or run with ranks=1")
    cmd = [mpirun]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    if ranks > (os.cpu_count() or 1):
        cmd.append("--oversubscribe")
    return cmd + ["-np", str(ranks), exe, "-in", input_name]


def time_bare_pw(workdir: str | os.PathLike, ranks: int, check: bool = True) -> float:
    """Wall seconds of pw.x run again, with nothing of rhocat around it, on the input
    ``pw.in`` in ``workdir`` (output to ``bare.out``): the yardstick of rhocat's own
    overhead in the QE-layer and DFT-pipeline benchmarks. ``check``: raise
    ``subprocess.CalledProcessError`` when pw.x exits non-zero."""
    workdir = Path(workdir)
    t0 = time.perf_counter()
    with open(workdir / "bare.out", "w") as out:
        subprocess.run(
            pw_command(ranks),
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=check,
            env=dict(os.environ, OMP_NUM_THREADS="1"),
        )
    return time.perf_counter() - t0


def run_pw(
    input_text: str,
    workdir: str | os.PathLike,
    *,
    ranks: int | None = None,
    timeout_s: float | None = None,
    executable: str = "pw.x",
    on_line: Callable[[str], None] | None = None,
) -> RawRun:
    """Write ``pw.in`` into ``workdir`` and run pw.x there.

    stdout goes to ``workdir/pw.out`` (and is returned). A timeout kills the whole
    process group and is reported as ``timed_out=True``, not raised. ``on_line`` is
    called with each line of pw.x's output as pw.x writes it (polled every 0.2 s).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(workdir / "pw.in", input_text)  # a full disk leaves no half pw.in
    cmd = pw_command(ranks if ranks is not None else default_ranks(), "pw.in", executable)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    timed_out = False
    with open(workdir / "pw.out", "w") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),
        )
        fed = _Fed(on_line)
        try:
            if on_line is None:
                returncode = proc.wait(timeout=timeout_s)
            else:
                returncode = _wait_following(proc, workdir / "pw.out", timeout_s, fed)
            interrupts.complete()  # pw.x ended by itself: an interrupt now stops nothing
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            returncode = proc.wait()
        except BaseException as exc:
            if proc.poll() is None or not interrupts.hold(exc):
                _kill_group(proc)
                proc.wait()
                raise
            # the interrupt came after pw.x had exited by itself: its run is complete
            returncode = proc.returncode
            fed.rest(workdir / "pw.out")
    wall = time.perf_counter() - t0
    stdout = (workdir / "pw.out").read_text(errors="replace")
    return RawRun(stdout, returncode, wall, timed_out, cmd)


class _Fed:
    """``on_line`` counting the lines it was given, to give the rest after an interrupt."""

    def __init__(self, on_line: Callable[[str], None] | None):
        self.on_line = on_line
        self.count = 0

    def __call__(self, line: str) -> None:
        self.on_line(line)
        self.count += 1

    def rest(self, out_path: Path) -> None:
        """Pass the lines of ``out_path`` not given yet (a final partial line too)."""
        if self.on_line is None:
            return
        lines = out_path.read_text(errors="replace").split("\n")
        if lines[-1] == "":
            lines.pop()
        for line in lines[self.count :]:
            self(line)


PR_SET_PDEATHSIG = 1
#: Seconds between two looks at pw.out when following it.
FOLLOW_POLL_S = 0.2


def _wait_following(
    proc: subprocess.Popen, out_path: Path, timeout_s: float | None, on_line
) -> int:
    """Wait for ``proc`` like ``Popen.wait(timeout)``, passing each new complete line of
    ``out_path`` to ``on_line``; raises ``subprocess.TimeoutExpired`` past the timeout."""
    t0 = time.monotonic()
    pending = ""
    with open(out_path, errors="replace") as fh:
        while True:
            returncode = proc.poll()
            pending += fh.read()
            *lines, pending = pending.split("\n")
            for line in lines:
                on_line(line)
            if returncode is not None:
                if pending:
                    on_line(pending)
                return returncode
            if timeout_s is not None and time.monotonic() - t0 > timeout_s:
                raise subprocess.TimeoutExpired(proc.args, timeout_s)
            time.sleep(FOLLOW_POLL_S)


def _die_with_parent(parent_pid: int):
    """A ``preexec_fn`` asking the kernel to SIGKILL the child when rhocat dies (Linux);
    elsewhere None (the child then outlives a SIGKILLed rhocat)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # rhocat died before prctl took effect
            os._exit(1)

    return preexec


def _live_pids() -> list[int]:
    """Pids of the live processes (Linux /proc; [] elsewhere)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    return [int(entry.name) for entry in proc.iterdir() if entry.name.isdigit()]


def session_pids(sid: int) -> list[int]:
    """Pids of the live processes of session ``sid`` (Linux /proc; [] elsewhere)."""
    pids = []
    for pid in _live_pids():
        try:
            if os.getsid(pid) == sid:
                pids.append(pid)
        except (ProcessLookupError, PermissionError, OSError):
            continue
    return pids


def proc_stat(pid: int) -> list[str] | None:
    """Fields 3 onwards of ``/proc/<pid>/stat`` (state, ppid, ...; the start time in clock
    ticks after boot is item 19), or None where unreadable (no such process, not Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces or ')': field 3 follows the last ')'
    return stat[stat.rfind(")") + 2 :].split()


def child_pids(pid: int) -> list[int]:
    """Pids of the live children of process ``pid`` (Linux /proc; [] elsewhere)."""
    children = []
    for candidate in _live_pids():
        fields = proc_stat(candidate)
        if fields is not None and len(fields) > 1 and fields[1] == str(pid):
            children.append(candidate)
    return children


def _sigkill(pids: list[int]) -> None:
    """SIGKILL each of ``pids`` that still exists and may be signalled."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_child_sessions() -> None:
    """SIGKILL every child of this process and the session each one leads.

    pw.x (or mpirun and its ranks) runs in a session of its own, led by a
    child of rhocat; this stops such runs even when their ``Popen`` object was
    never returned (an interrupt inside ``subprocess.Popen``).
    """
    for child in child_pids(os.getpid()):
        _sigkill([child, *session_pids(child)])


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL pw.x's whole session: mpirun's group and each rank's own group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # mpirun first: it starts no rank after this
    except (ProcessLookupError, PermissionError):
        proc.kill()
    _sigkill(session_pids(proc.pid))
