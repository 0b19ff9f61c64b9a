"""`make run` under supervision: a crashed server comes back, the rest keep serving, Ctrl-C stops all.

Runs scripts/run.sh itself (what `make run` runs) on free ports with its own
RUN_VAR_DIR, so its databases, secrets, logs and supervisord socket are in a temp
directory. kill -9 of the Rasa worker: the front still answers REST and the fork server
(rasa_server/fork_server.py, itself a supervisord program) forks the worker again on its port within 60 s (target 30 s, measured by bench/reliability_bench.py). SIGTERM to the run (Ctrl-C):
supervisord and every server it started exit, nothing is left behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest
import requests

from rasa_server.fork_server import running_pid
from tests.conftest import PROJECT_ROOT
from tests.servers import free_ports, wait_until

pytestmark = pytest.mark.timeout(420)
START_TIMEOUT_S = 300  # train.sh may retrain first if the data changed since `make test` trained
# The target is 30 s (results/reliability.md measures it); the test allows for a loaded CI machine,
# where loading the model alone has taken 20 s.
RESTART_LIMIT_S = 60

# Everything run.sh reads from the environment: the run must get its own, not the caller's.
RUN_ENV = ("RASA_PORT", "ACTIONS_PORT", "DESK_PORT", "RASA_WORKERS", "RASA_WORKER_PORT", "RASA_WORKER_URLS", "DESK_URL",
           "RASA_URL", "ACTION_SERVER_URL", "DESK_DATABASE_URL", "ESCALATION_OUTBOX_DB", "GATEWAY_OUTBOX_DB",
           "MESSAGE_SPOOL_DB", "TELEGRAM_DEDUPE_DB", "ACTION_SERVER_TOKEN", "RASA_API_TOKEN", "DESK_API_TOKEN",
           "DESK_ADMIN_PASSWORD", "RASA_WORKER_TOKEN", "SOCKETIO_SESSION_SECRET", "RUN_VAR_DIR", "RUN_ENDPOINTS",
           "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "ONCALL_TELEGRAM_BOT_TOKEN")


def children_of() -> Dict[int, List[int]]:
    """parent pid -> child pids, from /proc."""
    tree: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> Set[int]:
    tree, found, todo = children_of(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).ok
    except requests.RequestException:
        return False


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


class Run:
    """scripts/run.sh started the way a person starts `make run`, in a temp var dir (bench/reliability_bench.py too)."""

    def __init__(self, var_dir: Path) -> None:
        self.var = var_dir
        self.rasa_port, self.actions_port, self.desk_port, self.worker_port = free_ports(4)
        env = {k: v for k, v in os.environ.items() if k not in RUN_ENV}
        env.update(RASA_PORT=str(self.rasa_port), ACTIONS_PORT=str(self.actions_port), DESK_PORT=str(self.desk_port),
                   RASA_WORKER_PORT=str(self.worker_port), RASA_WORKERS="1", RUN_VAR_DIR=str(var_dir))
        self.output = var_dir.parent / "run.out"
        # Append mode: supervisord and the programs it sends to /dev/stdout share this file.
        with open(self.output, "ab") as out:
            self.process = subprocess.Popen(["bash", "scripts/run.sh"], cwd=PROJECT_ROOT, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.seen: Set[int] = set()

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted((self.var / "log").glob("*.log")))

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "run: ready" not in self.text():
            if self.process.poll() is not None:
                raise RuntimeError(f"run.sh exited with {self.process.returncode}:\n{self.text()[-4000:]}\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no 'ready' in {START_TIMEOUT_S} s:\n{self.text()[-4000:]}\n{self.logs()}")
            time.sleep(0.5)

    def remember_processes(self) -> Set[int]:
        self.seen |= descendants(self.process.pid)
        return self.seen

    def program_pid(self, name: str) -> int:
        """A supervisord program's pid, or a Rasa process's from the fork server's pid file."""
        if name == "rasa" or name.startswith("rasa-worker-"):
            return running_pid(self.var / "run", name)
        out = subprocess.run([str(PROJECT_ROOT / ".venv/bin/supervisorctl"), "-c", str(self.var / "supervisord.conf"),
                              "pid", name], capture_output=True, text=True, timeout=30)
        return int(out.stdout.strip())

    def send(self, text: str, sender: str) -> requests.Response:
        return requests.post(f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook",
                             json={"sender": sender, "message": text}, timeout=60)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> Optional[int]:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        return self.process.returncode

    def kill_leftovers(self) -> None:
        """Last resort after a failure: only the pids this run started."""
        for pid in self.remember_processes() | {self.process.pid}:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.process.poll() is None:
            self.process.wait(timeout=30)


@pytest.fixture
def run(tmp_path: Path):
    started = Run(tmp_path / "var")
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()
        started.kill_leftovers()


def test_a_killed_worker_is_restarted_while_the_front_keeps_answering_and_sigterm_stops_everything(run):
    worker_health = f"http://127.0.0.1:{run.worker_port}/webhooks/worker/health"
    assert answers(worker_health)
    assert run.send("怎么创建钱包", sender="before").json()  # the whole system answers
    # The banner sends people to a desk token that works: the bot's DESK_API_TOKEN is refused there.
    banner = run.text()[run.text().index("agent desk"):]
    assert "create-token" in banner and "Bearer $DESK_API_TOKEN" not in banner
    programs = {name: run.program_pid(name) for name in ("actions", "rasa-fork-server", "rasa-worker-1", "rasa", "desk")}
    assert set(programs.values()) <= run.remember_processes()

    old_worker = programs["rasa-worker-1"]
    os.kill(old_worker, signal.SIGKILL)
    killed_at = time.monotonic()
    # The front answers every conversation itself while its worker is down.
    for n in range(6):
        reply = run.send("怎么创建钱包" if n % 2 else "how do I create a wallet", sender=f"during-{n}")
        assert reply.status_code == 200 and reply.json(), reply.text
    assert wait_until(lambda: answers(worker_health), timeout=RESTART_LIMIT_S, interval=0.25), \
        f"the worker did not answer again within {RESTART_LIMIT_S} s:\n{run.logs()}"
    restarted_in = time.monotonic() - killed_at
    print(f"worker answered again {restarted_in:.1f} s after kill -9")
    assert run.program_pid("rasa-worker-1") not in (0, old_worker)
    for name in ("actions", "rasa-fork-server", "rasa", "desk"):  # the others were not restarted
        assert run.program_pid(name) == programs[name]
    assert run.send("how do I create a wallet", sender="after").json()

    # Logs are per server under var/log/, at the servers' usual levels: no user text in them.
    marker = f"my-private-note-{uuid.uuid4().hex[:10]}"
    assert run.send(f"怎么创建钱包 {marker}", sender="private").status_code == 200
    logs = {p.name for p in (run.var / "log").glob("*.log")}
    assert {"actions.log", "rasa-fork-server.log", "rasa-worker-1.log", "rasa.log", "desk.log", "supervisord.log"} <= logs
    assert not [p.name for p in (run.var / "log").glob("*.log") if marker in p.read_text(errors="replace")]

    everything = run.remember_processes()
    assert run.stop(signal.SIGTERM, timeout=60) is not None, "supervisord did not exit within 60 s of SIGTERM"
    left = [pid for pid in everything if alive(pid)]
    assert not left, f"still running after SIGTERM: {left}"
    for port in (run.rasa_port, run.actions_port, run.desk_port, run.worker_port):
        assert not listening(port), f"port {port} still open after SIGTERM"
