"""``deploy.scaleout.exited``: a server that exited is seen as gone even when its parent has not waited for it.

The scale-out test starts the deployment from its own process, so the servers it stops are its
children; before ``exited`` reaped them, ``Deployment.stop`` took their zombies for live servers
and waited out its whole deadline (30 s of every test run).
"""

from __future__ import annotations

import subprocess
import sys
import time

from deploy.scaleout import exited


def test_a_child_that_exited_is_gone_though_never_waited_for() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    pid = child.pid
    deadline = time.monotonic() + 20
    while not exited(pid):
        assert time.monotonic() < deadline, "an exited child still counts as running"
        time.sleep(0.05)
    child.returncode = 0  # reaped by exited(); keep Popen from waiting on it again


def test_a_running_child_and_a_process_not_ours_are_not_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not exited(child.pid)
        assert not exited(1)  # init: alive, and not this process's child
    finally:
        child.kill()
        child.wait()
