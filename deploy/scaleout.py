"""The scale-out profile on one machine: PostgreSQL, Redis, nginx, two Rasa processes, stateless action servers.

``python -m deploy.scaleout start|stop|status`` (or ``scripts/scaleout.sh``).
Everything lives under ``var/scaleout/`` (or ``--root``): a PostgreSQL 15
cluster from Debian's binaries (tracker store and ticket store), a Redis lock
store (Rasa) that is also socket.io's message queue (an agent reply triggered
on one Rasa process reaches a widget connected to the other), two action
servers and two Rasa processes behind nginx (REST round-robin, socket.io sticky
by client address), and one desk. Secrets are generated into ``secrets.env``;
``target.json`` tells the tests and the surge benchmark where everything is.
No Docker engine is needed; ``deploy/compose.yml`` and ``deploy/k8s/`` describe
the same topology for real deployments (not exercised in CI).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
BINARIES = {"postgres": PG_BIN / "initdb", "redis-server": Path("/usr/bin/redis-server"), "nginx": Path("/usr/sbin/nginx")}
START_TIMEOUT_S = 240


@dataclass
class Ports:
    """``base``: nginx for Rasa; base+1..: Rasa processes; base+50: nginx for the action servers."""

    base: int = 5100

    @property
    def nginx_rasa(self) -> int:
        return self.base

    def rasa(self, count: int) -> List[int]:
        return [self.base + 1 + n for n in range(count)]

    @property
    def nginx_actions(self) -> int:
        return self.base + 50

    def actions(self, count: int) -> List[int]:
        return [self.base + 51 + n for n in range(count)]

    @property
    def desk(self) -> int:
        return self.base + 80

    @property
    def postgres(self) -> int:
        return self.base + 90

    @property
    def redis(self) -> int:
        return self.base + 91


def missing_binaries() -> List[str]:
    return [name for name, path in BINARIES.items() if not path.exists()]


def _as_postgres(command: List[str]) -> List[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


def _latest_model() -> Path:
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        subprocess.run(["bash", "scripts/train.sh"], cwd=PROJECT_ROOT, check=True)
        models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1]


def _secrets(root: Path) -> Dict[str, str]:
    path = root / "secrets.env"
    if not path.exists():
        names = ("ACTION_SERVER_TOKEN", "RASA_API_TOKEN", "DESK_API_TOKEN", "SOCKETIO_SESSION_SECRET")
        path.write_text("".join(f"{n}={secrets.token_urlsafe(32)}\n" for n in names), encoding="utf-8")
        path.chmod(0o600)
    return dict(line.split("=", 1) for line in path.read_text(encoding="utf-8").split())


def _wait(url: str, deadline: float, what: str) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status < 500:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up at {url}")
        time.sleep(1)


def _nginx_conf(root: Path, ports: Ports, rasa: List[int], actions: List[int]) -> str:
    user = "user root;\n" if os.getuid() == 0 else ""
    rest = "".join(f"    server 127.0.0.1:{p};\n" for p in rasa)
    upstream_actions = "".join(f"    server 127.0.0.1:{p};\n" for p in actions)
    return f"""{user}daemon off;
worker_processes 1;
pid {root}/nginx/nginx.pid;
error_log {root}/nginx/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {root}/nginx/body;
  proxy_temp_path {root}/nginx/proxy;
  fastcgi_temp_path {root}/nginx/fastcgi;
  uwsgi_temp_path {root}/nginx/uwsgi;
  scgi_temp_path {root}/nginx/scgi;
  # REST, the HTTP API and webhooks: any Rasa process (Redis lock + shared tracker store).
  upstream rasa_any {{
{rest}  }}
  # socket.io: one client stays on one process (polling requests and the websocket upgrade).
  upstream rasa_sticky {{
    ip_hash;
{rest}  }}
  upstream actions {{
{upstream_actions}  }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
    listen 127.0.0.1:{ports.nginx_rasa};
    client_max_body_size 1m;
    location /socket.io/ {{
      proxy_pass http://rasa_sticky;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout 600s;
    }}
    location / {{
      proxy_pass http://rasa_any;
      proxy_set_header Host $host;
      proxy_read_timeout 600s;
    }}
  }}
  server {{
    listen 127.0.0.1:{ports.nginx_actions};
    location / {{ proxy_pass http://actions; proxy_read_timeout 60s; }}
  }}
}}
"""


def _endpoints(root: Path, ports: Ports) -> Path:
    path = root / "endpoints.yml"
    path.write_text(f"""# Generated by deploy/scaleout.py: the scale-out profile.
action_endpoint:
  url: http://127.0.0.1:${{RASA_PORT}}/webhooks/action_gateway/webhook
  token: ${{ACTION_SERVER_TOKEN}}
nlg:
  type: rasa_server.nlg.BilingualNLG
tracker_store:
  type: rasa_server.tracker_store.CachingSQLTrackerStore
  dialect: postgresql
  url: 127.0.0.1
  port: {ports.postgres}
  db: rasa
  username: postgres
  password: ""
lock_store:
  # Stock RedisLockStore loses tickets when two processes take one conversation at once (rasa#9213).
  type: rasa_server.redis_lock_store.AtomicRedisLockStore
  url: 127.0.0.1
  port: {ports.redis}
  db: 1
""", encoding="utf-8")
    return path


def exited(pid: int) -> bool:
    """Whether ``pid`` is gone, reaping it if it is this process's child.

    A child that exited but was never waited for is a zombie, and ``kill(pid, 0)`` still finds it:
    ``stop`` called from the process that started the deployment (the tests do) used to wait out its
    whole 30 s deadline for the first server, then send SIGKILL to a process already gone.
    """
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass  # not our child: its parent reaps it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # another user's process: it exists
    return False


class Deployment:
    def __init__(self, root: Path, ports: Ports, rasa_processes: int = 2, action_servers: int = 2) -> None:
        self.root = root
        self.ports = ports
        self.rasa_ports = ports.rasa(rasa_processes)
        self.action_ports = ports.actions(action_servers)
        self.pids_file = root / "pids.json"

    # ----- pieces -----------------------------------------------------------
    def _spawn(self, name: str, command: List[str], env: Optional[Dict[str, str]] = None) -> int:
        log = open(self.root / "logs" / f"{name}.log", "ab")
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env or os.environ.copy(), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        pids = self._pids()
        pids[name] = process.pid
        self.pids_file.write_text(json.dumps(pids), encoding="utf-8")
        return process.pid

    def _durable(self, name: str) -> Path:
        """A spool or outbox file: under ``durable/``, named by process (not port) so that a restart,
        even on other ports, finds what each process kept (as a pod finds its own volume claim)."""
        folder = self.root / "durable"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def _pids(self) -> Dict[str, int]:
        return json.loads(self.pids_file.read_text()) if self.pids_file.exists() else {}

    def _postgres(self) -> None:
        data = self.root / "pg" / "data"
        if not data.exists():
            data.parent.mkdir(parents=True, exist_ok=True)
            if os.getuid() == 0:
                shutil.chown(data.parent, "postgres", "postgres")
            subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                         "-E", "UTF8"]), check=True, capture_output=True, timeout=180)
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "log"), "-w",
                                     "-t", "120", "-o", f"-p {self.ports.postgres} -k {data.parent} "
                                     "-c listen_addresses=127.0.0.1 -c max_connections=200", "start"]),
                       check=True, capture_output=True, timeout=180)
        for database in ("rasa", "desk"):
            subprocess.run(_as_postgres([str(PG_BIN.parent / "bin" / "createdb"), "-h", "127.0.0.1", "-p",
                                         str(self.ports.postgres), "-U", "postgres", database]),
                           capture_output=True, timeout=60)  # exists already on a restart: fine

    def start(self) -> Dict[str, object]:
        missing = missing_binaries()
        if missing:
            raise SystemExit(f"scale-out profile needs Debian packages: {', '.join(missing)} "
                             "(sudo apt-get install postgresql redis-server nginx)")
        if self._pids():
            raise SystemExit(f"already running (see {self.pids_file}); stop it first")
        for folder in ("logs", "nginx"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        tokens = _secrets(self.root)
        model = _latest_model()
        self._postgres()
        self._spawn("redis", ["/usr/bin/redis-server", "--port", str(self.ports.redis), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", str(self.root)])
        base_env = {**os.environ, **tokens, "PYTHONPATH": str(PROJECT_ROOT),
                    "DESK_URL": f"http://127.0.0.1:{self.ports.desk}",
                    "DESK_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{self.ports.postgres}/desk",
                    "DESK_TRACKER_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{self.ports.postgres}/rasa",
                    "RASA_URL": f"http://127.0.0.1:{self.ports.nginx_rasa}",
                    "ACTION_SERVER_URL": f"http://127.0.0.1:{self.ports.nginx_actions}/webhook",
                    "SOCKETIO_REDIS_URL": f"redis://127.0.0.1:{self.ports.redis}/2",
                    "SOCKETIO_PUBLIC_URL": f"http://127.0.0.1:{self.ports.nginx_rasa}",
                    "SOCKETIO_ALLOWED_ORIGINS": f"http://localhost:8080,http://127.0.0.1:{self.ports.desk}",
                    "ESCALATION_OUTBOX_DB": str(self._durable("escalation_outbox.db")),
                    "SANIC_BACKLOG": "2048"}
        python = sys.executable
        for n, port in enumerate(self.action_ports):
            self._spawn(f"actions-{n + 1}", [python, "-m", "actions.server", "--port", str(port)],
                        {**base_env, "ESCALATION_OUTBOX_DB": str(self._durable(f"escalation_outbox.actions-{n + 1}.db"))})
        self._spawn("desk", [python, "-m", "desk", "serve", "--port", str(self.ports.desk), "--host", "127.0.0.1"], base_env)
        endpoints = _endpoints(self.root, self.ports)
        for n, port in enumerate(self.rasa_ports):
            env = {**base_env, "RASA_PORT": str(port),
                   "GATEWAY_OUTBOX_DB": str(self._durable(f"gateway_outbox.rasa-{n + 1}.db")),
                   "MESSAGE_SPOOL_DB": str(self._durable(f"message_spool.rasa-{n + 1}.db")),
                   "TELEGRAM_DEDUPE_DB": str(self.root / "telegram.db")}  # one machine: one shared ledger file
            self._spawn(f"rasa-{n + 1}", [python, "-m", "rasa", "run", "--model", str(model), "--endpoints",
                                           str(endpoints), "--credentials", str(PROJECT_ROOT / "credentials.yml"),
                                           "--port", str(port), "--enable-api", f"--auth-token={tokens['RASA_API_TOKEN']}"], env)
        conf = self.root / "nginx" / "nginx.conf"
        conf.write_text(_nginx_conf(self.root, self.ports, self.rasa_ports, self.action_ports), encoding="utf-8")
        self._spawn("nginx", [str(BINARIES["nginx"]), "-p", str(self.root / "nginx"), "-c", str(conf)])
        for port in self.action_ports:
            _wait(f"http://127.0.0.1:{port}/health", deadline, "action server")
        _wait(f"http://127.0.0.1:{self.ports.desk}/health", deadline, "desk")
        for port in self.rasa_ports:
            _wait(f"http://127.0.0.1:{port}/", deadline, f"Rasa on {port}")
        _wait(f"http://127.0.0.1:{self.ports.nginx_rasa}/", deadline, "nginx")
        # DESK_API_TOKEN reaches only the bot's endpoints: operations get a supervisor-scoped token.
        ops = subprocess.run([python, "-m", "desk", "create-token", "scaleout-ops"], env=base_env, cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=120, check=True)
        target = {"rasa_url": f"http://127.0.0.1:{self.ports.nginx_rasa}",
                  "rasa_processes": [f"http://127.0.0.1:{p}" for p in self.rasa_ports],
                  "desk_url": f"http://127.0.0.1:{self.ports.desk}", "rasa_token": tokens["RASA_API_TOKEN"],
                  "desk_token": tokens["DESK_API_TOKEN"], "ops_token": ops.stdout.strip().splitlines()[-1],
                  "postgres_port": self.ports.postgres,
                  "redis_port": self.ports.redis, "ports": asdict(self.ports)}
        (self.root / "target.json").write_text(json.dumps(target, indent=1), encoding="utf-8")
        return target

    def stop(self) -> None:
        pids = self._pids()
        for name in sorted(pids, key=lambda n: (n != "nginx", n.startswith("redis"))):
            try:
                os.killpg(pids[name], signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 30
        for pid in pids.values():
            while time.monotonic() < deadline:
                if exited(pid):
                    break
                time.sleep(0.2)
            else:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        data = self.root / "pg" / "data"
        if data.exists():
            subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                           capture_output=True, timeout=120)
        self.pids_file.unlink(missing_ok=True)

    def status(self) -> Dict[str, str]:
        states = {}
        for name, pid in self._pids().items():
            try:
                os.kill(pid, 0)
                states[name] = f"running (pid {pid})"
            except ProcessLookupError:
                states[name] = "exited"
        return states


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.scaleout", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT / "var/scaleout")
    parser.add_argument("--base-port", type=int, default=5100)
    parser.add_argument("--rasa-processes", type=int, default=2)
    parser.add_argument("--action-servers", type=int, default=2)
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    deployment = Deployment(args.root.resolve(), Ports(args.base_port), args.rasa_processes, args.action_servers)
    if args.command == "start":
        try:
            target = deployment.start()
        except Exception:
            deployment.stop()
            raise
        print(json.dumps({k: v for k, v in target.items() if not k.endswith("token")}, indent=1))
    elif args.command == "stop":
        deployment.stop()
        print("scale-out profile stopped")
    else:
        print(json.dumps(deployment.status(), indent=1))


if __name__ == "__main__":
    main()
