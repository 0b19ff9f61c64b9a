"""Start the real action server and Rasa server for tests, on free ports."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import requests

from rasa_server.fork_server import running_pid
from tests.conftest import PROJECT_ROOT

START_TIMEOUT_S = 300


def wait_until(check: Callable[[], Any], timeout: float = 60, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy or ``timeout`` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def free_ports(count: int) -> List[int]:
    """Distinct free ports: all sockets are held open until every port is known."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def latest_model() -> Path:
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise RuntimeError("no trained model in models/: run `make train` (make test does it)")
    return models[-1]


ONCALL_BOT_TOKEN = "123456:oncall-test-token"
ONCALL_CHAT_ID = "-100200300"
TELEGRAM_BOT_TOKEN = "654321:user-bot-test-token"
TELEGRAM_BOT_USERNAME = "wallet_help_bot"


# Renaming a wallet: no intent covers it, and the model hesitates between wallet set-up intents.
UNCLEAR_CANDIDATES = ("怎么改钱包名称", "怎么修改钱包的名字", "钱包名称在哪里改", "钱包可以改名字吗", "怎么给钱包改名",
                      "钱包能改个名吗", "怎么设置钱包名称", "钱包昵称怎么改")
# English: a rename question first; keyboard mashing last, which no model should be sure of.
UNCLEAR_CANDIDATES_EN = ("how can I rename my wallet please", "can I rename my wallet", "qwerty zxcv",
                         "asdf ghjk qwerty", "zxcv bnm asdf")


@dataclass
class RunningStack:
    rasa_url: str
    actions_url: str
    desk_url: str
    tracker_db: Path
    desk_db: Path
    log_dir: Path
    action_token: str
    api_token: str
    desk_token: str
    processes: List[subprocess.Popen]
    start_seconds: float
    env: dict
    commands: Dict[str, List[str]] = field(default_factory=dict)
    telegram_secret: str = ""
    env_overrides: Dict[str, Dict[str, str]] = field(default_factory=dict)  # per server name
    _ops_token: str = ""
    worker_urls: List[str] = field(default_factory=list)

    def telegram_update(self, update: dict, secret: Optional[str] = None) -> requests.Response:
        """POST an update to the Telegram webhook as Telegram does (with the secret header)."""
        secret = self.telegram_secret if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        return requests.post(f"{self.rasa_url}/webhooks/telegram/webhook", json=update, headers=headers, timeout=60)

    def _spawn(self, name: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        return subprocess.Popen(self.commands[name], cwd=PROJECT_ROOT, env={**self.env, **self.env_overrides.get(name, {})},
                                stdout=log, stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        """kill -9 one server and leave it down."""
        victim = self.processes[list(self.commands).index(name)]
        victim.kill()
        victim.wait()

    def crash_and_restart(self, name: str) -> None:
        """kill -9 one server (``actions``, ``rasa``, ``rasa-worker-1``… or ``desk``) and start it again on the same port."""
        index = list(self.commands).index(name)
        victim = self.processes[index]
        victim.kill()
        victim.wait()
        self.processes[index] = self._spawn(name)
        _wait_until_up(self.health_urls()[name], [self.processes[index]], time.monotonic() + START_TIMEOUT_S)

    def health_urls(self) -> Dict[str, str]:
        urls = {"actions": f"{self.actions_url}/health", "desk": f"{self.desk_url}/health", "rasa": f"{self.rasa_url}/"}
        urls.update({f"rasa-worker-{n}": f"{url}/webhooks/worker/health" for n, url in enumerate(self.worker_urls, 1)})
        return urls

    def child_pid(self, name: str) -> int:
        """The process id of a Rasa process the fork server started (``rasa``, ``rasa-worker-1``…), 0 if none."""
        return running_pid(self.log_dir, name)

    def server_pids(self) -> Dict[str, int]:
        """Every server process by name; with a shared model, the fork server's children too."""
        pids = {name: process.pid for name, process in zip(self.commands, self.processes)}
        if "rasa-fork-server" in pids:
            for name in ["rasa", *(f"rasa-worker-{n}" for n in range(1, len(self.worker_urls) + 1))]:
                pids[name] = self.child_pid(name)
        return pids

    def parse(self, text: str) -> dict:
        """Rasa's parse of ``text`` (its HTTP API: no conversation is created)."""
        answer = requests.post(f"{self.rasa_url}/model/parse", params={"token": self.api_token},
                               json={"text": text}, timeout=60)
        answer.raise_for_status()
        return answer.json()

    def unclear_message(self, language: str = "zh") -> str:
        """A message the running model falls back on (asks to clarify), from UNCLEAR_CANDIDATES(_EN).

        Which wording a model is unsure of moves with every change to the training data, so the
        tests that need one ask the model instead of naming one.
        """
        candidates = UNCLEAR_CANDIDATES_EN if language == "en" else UNCLEAR_CANDIDATES
        for text in candidates:
            if self.parse(text)["intent"]["name"] == "nlu_fallback":
                return text
        raise AssertionError(f"the model answers every one of {candidates} with confidence")

    def ops_token(self) -> str:
        """A supervisor-scoped API token from ``python -m desk create-token`` (DESK_API_TOKEN is the bot's only)."""
        if not self._ops_token:
            created = self.desk_cli("create-token", f"tests-ops-{secrets.token_hex(3)}")
            assert created.returncode == 0, created.stderr
            self._ops_token = created.stdout.strip().splitlines()[-1]
        return self._ops_token

    def desk(self, method: str, path: str, **kwargs) -> requests.Response:
        """Call the desk's JSON API as operations would (a supervisor-scoped CLI token)."""
        headers = {"Authorization": f"Bearer {self.ops_token()}", **kwargs.pop("headers", {})}
        return requests.request(method, self.desk_url + path, headers=headers, timeout=30, **kwargs)

    def open_ticket(self, conversation_id: str, timeout: float = 30) -> Optional[dict]:
        """The conversation's open ticket as the queue lists it, waiting up to ``timeout`` for it."""
        deadline = time.monotonic() + timeout
        while True:
            tickets = self.desk("GET", "/api/tickets?status=open").json()["tickets"]
            mine = [t for t in tickets if t["conversation_id"] == str(conversation_id)]
            if mine or time.monotonic() > deadline:
                return mine[0] if mine else None
            time.sleep(0.2)

    def agent_replies(self, ticket_id: str, state: Optional[str] = None, timeout: float = 40) -> List[dict]:
        """The ticket's agent replies; with ``state``, once all of them are ``delivered``/``undelivered`` (or the time is up)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.desk("GET", f"/api/tickets/{ticket_id}").json()["messages"]
            replies = [m for m in messages if m["from"] == "agent"]
            if state is None or (replies and all(m["delivery"] == state for m in replies)) or time.monotonic() > deadline:
                return replies
            time.sleep(0.2)

    def tracker_events(self, conversation_id: str) -> List[dict]:
        """The conversation's events as Rasa's HTTP API returns them (with RASA_API_TOKEN)."""
        answer = requests.get(f"{self.rasa_url}/conversations/{conversation_id}/tracker",
                              params={"token": self.api_token}, timeout=30)
        answer.raise_for_status()
        return answer.json()["events"]

    def desk_cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "desk", *args], cwd=PROJECT_ROOT, env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=120)

    def send(self, message: str, sender: str = "tester") -> list:
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=60
        )
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self, tail: int = 4000) -> str:
        return "\n".join(p.read_text(errors="replace")[-tail:] for p in sorted(self.log_dir.glob("*.log")))


def _fork_server_commands(commands: Dict[str, List[str]], env_overrides: Dict[str, Dict[str, str]],
                          work_dir: Path) -> Dict[str, List[str]]:
    """The same servers, with the Rasa ones as children of one fork server (spec written to ``work_dir``)."""
    rasa_names = [name for name in commands if name == "rasa" or name.startswith("rasa-worker-")]
    spec = {
        "model": commands["rasa"][commands["rasa"].index("--model") + 1],
        "log_dir": str(work_dir), "pid_dir": str(work_dir),
        # The API token stays out of the file: the child reads it from its environment.
        "processes": [{"name": name, "argv": ["--auth-token=${RASA_API_TOKEN}" if a.startswith("--auth-token=") else a
                                               for a in commands[name][3:]],  # after [python, -m, rasa]
                       "env": env_overrides.get(name, {})}
                      for name in [*(n for n in rasa_names if n != "rasa"), "rasa"]],  # workers first, as make run
    }
    spec_file = work_dir / "rasa_processes.json"
    spec_file.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    others = {name: command for name, command in commands.items() if name not in rasa_names}
    return {"actions": others.pop("actions"),
            "rasa-fork-server": [sys.executable, "-m", "rasa_server.fork_server", str(spec_file)], **others}


def _wait_until_up(url: str, processes: List[subprocess.Popen], deadline: float) -> None:
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {START_TIMEOUT_S} s")


def start_stack(work_dir: Path, model: Optional[Path] = None, telegram_api: Optional[str] = None,
                debug: bool = True, workers: int = 1, extra_env: Optional[Dict[str, str]] = None,
                shared_model: bool = False) -> RunningStack:
    """Action server, Rasa (with ``workers`` worker processes, as `make run`) and the desk.

    Each with settings of its own: free ports, fresh SQLite files.
    ``debug``: DEBUG logging everywhere (the tests scan those logs for secrets); benchmarks turn it off.
    ``extra_env``: more environment for every server (e.g. CHAIN_RPC_ETHEREUM for the transaction lookup).
    ``shared_model``: the Rasa server and its workers are forked from one process that loaded the
    model (``rasa_server/fork_server.py``, as `make run` runs them); ``processes`` then holds that
    parent under the name ``rasa-fork-server``, and :meth:`RunningStack.server_pids` finds its children. Otherwise each is a
    ``rasa run`` of its own, which tests that kill one of them need.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    rasa_port, actions_port, desk_port, *worker_ports = free_ports(3 + workers)
    worker_urls = [f"http://127.0.0.1:{port}" for port in worker_ports]
    tracker_db = work_dir / "tracker.db"
    desk_db = work_dir / "desk.db"
    endpoints = work_dir / "endpoints.yml"
    endpoints.write_text(
        f"""action_endpoint:
  url: "http://127.0.0.1:{rasa_port}/webhooks/action_gateway/webhook"
  token: ${{ACTION_SERVER_TOKEN}}
nlg:
  type: rasa_server.nlg.BilingualNLG
tracker_store:
  type: rasa_server.tracker_store.CachingSQLTrackerStore
  dialect: sqlite
  db: {tracker_db}
lock_store:
  type: rasa_server.lock_store.FileLockStore
  path: {work_dir / "conversation.locks"}
""",
        encoding="utf-8",
    )
    action_token, api_token, desk_token, worker_token = (secrets.token_urlsafe(32) for _ in range(4))
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "ACTION_SERVER_TOKEN": action_token,
        "RASA_API_TOKEN": api_token,
        "DESK_API_TOKEN": desk_token,
        "DESK_URL": f"http://127.0.0.1:{desk_port}",
        "DESK_DATABASE_URL": f"sqlite:///{desk_db}",
        "DESK_TRACKER_DATABASE_URL": f"sqlite:///{tracker_db}",  # the NLU inbox and report read it
        "RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "SOCKETIO_SESSION_SECRET": secrets.token_urlsafe(32),
        "ESCALATION_OUTBOX_DB": str(work_dir / "escalation_outbox.db"),
        "ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook",
        "GATEWAY_OUTBOX_DB": str(work_dir / "gateway_outbox.db"),
        "MESSAGE_SPOOL_DB": str(work_dir / "message_spool.db"),
        "ACTION_TIMEOUT_SECONDS": "5",
        "SANIC_BACKLOG": "2048",  # as `make run`: a flood must not overflow Rasa's listen backlog
        # The widget page is served by the desk; SocketIOUser presents localhost:8080.
        "SOCKETIO_ALLOWED_ORIGINS": f"http://localhost:8080,http://127.0.0.1:{desk_port}",
        "SOCKETIO_PUBLIC_URL": f"http://127.0.0.1:{rasa_port}",
        "RASA_WORKER_URLS": ",".join(worker_urls),
        "RASA_WORKER_TOKEN": worker_token,
        # Every test talks from 127.0.0.1: the per-client flood limit and paging bursts have tests of their own.
        "DESK_ESCALATIONS_PER_CLIENT": "100000",
        "ONCALL_COALESCE_SECONDS": "1",
        "DESK_ATTACHMENTS_DIR": str(work_dir / "attachments"),
    }
    env.update(extra_env or {})
    telegram_secret = secrets.token_urlsafe(24)
    if telegram_api:
        env.update(ONCALL_TELEGRAM_API_BASE=telegram_api, ONCALL_TELEGRAM_BOT_TOKEN=ONCALL_BOT_TOKEN,
                   ONCALL_TELEGRAM_CHAT_ID=ONCALL_CHAT_ID, TELEGRAM_API_BASE=telegram_api,
                   TELEGRAM_BOT_TOKEN=TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET=telegram_secret,
                   TELEGRAM_BOT_USERNAME=TELEGRAM_BOT_USERNAME, TELEGRAM_WEBHOOK_URL="https://bot.example/webhooks/telegram/webhook",
                   TELEGRAM_DEDUPE_DB=str(work_dir / "telegram.db"))
    rasa = [sys.executable, "-m", "rasa"]
    commands = {
        "actions": [sys.executable, "-m", "actions.server", "--port", str(actions_port), *(["--debug"] if debug else [])],
        "rasa": rasa + [
            "run", "--model", str(model or latest_model()), "--endpoints", str(endpoints),
            "--credentials", str(PROJECT_ROOT / "credentials.yml"), "--port", str(rasa_port),
            *(["--debug"] if debug else []),  # Rasa logs message text at DEBUG: tests check no secret reaches it
            "--enable-api", f"--auth-token={api_token}",  # "=": a token may start with "-"
        ],
        "desk": [sys.executable, "-m", "desk", "serve", "--port", str(desk_port), "--host", "127.0.0.1",
                 *(["--debug"] if debug else [])],
    }
    env_overrides: Dict[str, Dict[str, str]] = {}
    for number, port in enumerate(worker_ports, 1):
        name = f"rasa-worker-{number}"
        commands[name] = rasa + [
            "run", "--model", str(model or latest_model()), "--endpoints", str(endpoints),
            "--credentials", str(PROJECT_ROOT / "credentials.worker.yml"), "--port", str(port),
            "--interface", "127.0.0.1", *(["--debug"] if debug else []),
        ]
        # A worker forwards nothing and keeps its own outbox and spool files (their loops are per process).
        env_overrides[name] = {"RASA_WORKER_URLS": "", "GATEWAY_OUTBOX_DB": str(work_dir / f"gateway_outbox.{name}.db"),
                               "MESSAGE_SPOOL_DB": str(work_dir / f"message_spool.{name}.db")}
    if shared_model:
        commands = _fork_server_commands(commands, env_overrides, work_dir)
        env_overrides = {}
    started = time.monotonic()
    stack = RunningStack(
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        actions_url=f"http://127.0.0.1:{actions_port}",
        desk_url=f"http://127.0.0.1:{desk_port}",
        tracker_db=tracker_db,
        desk_db=desk_db,
        log_dir=work_dir,
        action_token=action_token,
        api_token=api_token,
        desk_token=desk_token,
        processes=[],
        start_seconds=0.0,
        env=env,
        commands=commands,
        telegram_secret=telegram_secret,
        env_overrides=env_overrides,
        worker_urls=worker_urls,
    )
    processes = stack.processes
    for name in commands:
        processes.append(stack._spawn(name))
    try:
        deadline = started + START_TIMEOUT_S
        for url in stack.health_urls().values():
            _wait_until_up(url, processes, deadline)
    except Exception:
        stack.stop()
        raise RuntimeError(f"servers did not start:\n{stack.logs()}")
    stack.start_seconds = time.monotonic() - started
    return stack
