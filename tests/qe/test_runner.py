"""Process handling of the pw.x runner: the children rhocat leaves behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc")

# A process that starts a session like a pw.x run (a leader and a grandchild in
# it, as mpirun and its ranks), prints the pids, kills its children's sessions
# and reports which of those pids are still alive.
SCRIPT = r"""
import json, os, subprocess, sys, time
from rhocat.qe.runner import child_pids, kill_child_sessions

leader = subprocess.Popen(
    ["sh", "-c", "sleep 60 & echo $!; wait"],
    stdout=subprocess.PIPE, text=True, start_new_session=True,
)
grandchild = int(leader.stdout.readline())
before = child_pids(os.getpid())
kill_child_sessions()
leader.wait()
time.sleep(0.2)
def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
print(json.dumps({"leader": leader.pid, "grandchild": grandchild, "children": before,
                  "alive": [p for p in (leader.pid, grandchild) if alive(p)],
                  "returncode": leader.returncode}))
"""


def test_kill_child_sessions_stops_the_leader_and_its_session():
    t0 = time.time()
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["children"] == [report["leader"]]  # the grandchild is not our child
    assert report["alive"] == []  # the session's other member (the "rank") is gone too
    assert report["returncode"] == -9
    assert time.time() - t0 < 20  # nobody waited for the 60 s sleeps


def test_child_pids_of_a_process_without_children():
    from rhocat.qe.runner import child_pids

    p = subprocess.Popen(["sleep", "5"])
    try:
        assert child_pids(p.pid) == []
        assert p.pid in child_pids(os.getpid())
    finally:
        p.kill()
        p.wait()
