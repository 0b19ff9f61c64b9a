"""The fork server (rasa_server/fork_server.py): one model load shared by the Rasa processes.

Against the real stack as `make run` runs it (``start_stack(shared_model=True)``): the
front and the worker both answer, neither loaded the model itself, a killed worker is
forked again while the front keeps answering, and killing the fork server takes its
children with it (supervisord then starts the whole group again).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
import requests

from rasa_server.fork_server import ForkSpec
from tests.servers import start_stack, wait_until

pytestmark = pytest.mark.timeout(400)


def _spec(**extra) -> str:
    return json.dumps({"model": "models", "log_dir": "l", "pid_dir": "p",
                       "processes": [{"name": "rasa", "argv": ["run"]}], **extra})


def test_the_spec_switches_preloading_off_with_the_optimisations():
    assert ForkSpec.from_json(_spec(), environ={}).preload
    assert not ForkSpec.from_json(_spec(), environ={"RASA_SHARED_MODEL": "off"}).preload
    assert not ForkSpec.from_json(_spec(), environ={"RASA_OPTIMISATIONS": "off"}).preload
    assert not ForkSpec.from_json(_spec(preload=False), environ={}).preload


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _worker_answers(stack) -> bool:
    try:
        return requests.get(f"{stack.worker_urls[0]}/webhooks/worker/health", timeout=2).ok
    except requests.RequestException:
        return False


def test_forked_processes_answer_without_loading_the_model_again_and_come_back_after_a_crash(tmp_path):
    stack = start_stack(tmp_path / "stack", shared_model=True)
    try:
        for n in range(6):  # new conversations are dealt to the worker and the front
            assert stack.send("怎么创建钱包", sender=f"fork-{n}")
        front, worker = stack.child_pid("rasa"), stack.child_pid("rasa-worker-1")
        parent = stack.processes[list(stack.commands).index("rasa-fork-server")].pid
        assert front and worker and front != worker
        for name in ("rasa", "rasa-worker-1"):
            log = (stack.log_dir / f"{name}.log").read_text(errors="replace")
            assert "Using the model loaded before this process was forked" in log, log[-2000:]
            assert not re.search(r"Loading model \S+\.tar\.gz", log)  # Rasa's message when it unpacks a model
            assert "Building prefix dict" not in log  # jieba's, when it loads a dictionary
            frozen = re.search(r"(\d+) objects inherited from the fork server left out of the cyclic GC", log)
            assert frozen and int(frozen.group(1)) > 100_000, log[-2000:]  # the model's objects among them
        assert len(re.findall(r"Loading model \S+\.tar\.gz", (stack.log_dir / "rasa-fork-server.log").read_text())) == 1

        os.kill(worker, signal.SIGKILL)
        for n in range(4):  # the front answers while its worker is down
            assert stack.send("how do I create a wallet", sender=f"during-{n}")
        assert wait_until(lambda: stack.child_pid("rasa-worker-1") not in (0, worker) and _worker_answers(stack),
                          timeout=60, interval=0.25), stack.logs()
        assert stack.child_pid("rasa") == front and _alive(front)
        assert stack.send("how do I create a wallet", sender="after")

        # The fork server dies: its children must not be left running on their ports.
        children = [stack.child_pid("rasa"), stack.child_pid("rasa-worker-1")]
        os.kill(parent, signal.SIGKILL)
        stack.processes[list(stack.commands).index("rasa-fork-server")].wait(timeout=30)
        assert wait_until(lambda: not any(_alive(pid) for pid in children), timeout=30, interval=0.2), \
            f"children outlived the fork server: {[pid for pid in children if _alive(pid)]}"
    finally:
        stack.stop()


def test_sigterm_stops_every_child(tmp_path):
    stack = start_stack(tmp_path / "stack", shared_model=True, debug=False)
    parent = stack.processes[list(stack.commands).index("rasa-fork-server")]
    children = [stack.child_pid("rasa"), stack.child_pid("rasa-worker-1")]
    assert all(children)
    started = time.monotonic()
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 0
    stack.stop()
    assert not any(_alive(pid) for pid in children)
    assert not (stack.log_dir / "rasa.pid").exists()
    print(f"stopped in {time.monotonic() - started:.1f} s")
