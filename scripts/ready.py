"""Print `ready` once every server `make run` started answers (a one-shot supervisord program).

Polls the action server, each Rasa worker, the Rasa server and the desk (the
addresses run.sh exports). If supervisord gives a server up during start-up
(FATAL: it kept exiting at once, e.g. its port is taken) this says which, where its
log is, and shuts supervisord down: `make run` then ends instead of half-running,
as it did before supervision.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from typing import Dict, List

START = time.monotonic()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback, our own servers
            return 200 <= response.status < 300
    except Exception:  # noqa: BLE001 - not up yet
        return False


def fatal_programs() -> List[str]:
    """Programs supervisord has given up on (FATAL), through its XML-RPC socket."""
    try:
        from supervisor import childutils

        rpc = childutils.getRPCInterface(os.environ)
        return [p["name"] for p in rpc.supervisor.getAllProcessInfo() if p["statename"] == "FATAL"]
    except Exception:  # noqa: BLE001 - no socket (run by hand): nothing to report
        return []


def shutdown_supervisor() -> None:
    try:
        from supervisor import childutils

        childutils.getRPCInterface(os.environ).supervisor.shutdown()
    except Exception:  # noqa: BLE001
        pass


def main() -> int:
    env = os.environ
    rasa, actions, desk = env["RASA_PORT"], env["ACTIONS_PORT"], env["DESK_PORT"]
    var = env.get("RUN_VAR_DIR", "var")
    workers = [u for u in env.get("RASA_WORKER_URLS", "").split(",") if u]
    checks: Dict[str, str] = {
        "actions": f"http://127.0.0.1:{actions}/health",
        **{f"rasa-worker-{n}": f"{url}/webhooks/worker/health" for n, url in enumerate(workers, 1)},
        "rasa": f"http://127.0.0.1:{rasa}/",
        "desk": f"http://127.0.0.1:{desk}/health",
    }
    print(f"run: starting {', '.join(checks)} under supervisord; their logs: {var}/log/<name>.log", flush=True)
    while True:
        waiting = [name for name, url in checks.items() if not answers(url)]
        if not waiting:
            break
        given_up = fatal_programs()
        if given_up:
            print(f"run: {', '.join(given_up)} exited during start-up and was given up on; "
                  f"see {var}/log/{given_up[0]}.log. Stopping the rest.", file=sys.stderr, flush=True)
            shutdown_supervisor()
            return 1
        time.sleep(1)
    secrets = f"{var}/secrets.env"
    print(f"""
run: ready in {time.monotonic() - START:.0f} s
  action server   http://localhost:{actions}/webhook   (needs ACTION_SERVER_TOKEN)
  Rasa workers    {' '.join(workers) or 'none'}   (turns of a share of the conversations; RASA_WORKERS={env.get('RASA_WORKERS', '1')})
  Rasa server     http://localhost:{rasa}
    health        http://localhost:{rasa}/webhooks/action_gateway/health  (tracker store, action server, desk, backlogs)
    REST          POST http://localhost:{rasa}/webhooks/rest/webhook
    socket.io     http://localhost:{rasa}/socket.io
    HTTP API      http://localhost:{rasa}/status?token=…  (RASA_API_TOKEN in {secrets})
  web widget      http://localhost:{desk}/widget/   (rasa-webchat over socket.io; phone-width page for the app's web view)
  agent desk      http://localhost:{desk}/desk/    (user admin, password DESK_ADMIN_PASSWORD in {secrets})
    JSON API      http://localhost:{desk}/api/tickets  (Authorization: Bearer <token from: .venv/bin/python -m desk create-token NAME>)
  databases       {var}/tracker.db (Rasa's tracker store), {var}/desk.db (tickets), both SQLite
  supervision     each server is restarted when it exits; logs in {var}/log/
    status        .venv/bin/supervisorctl -c {var}/supervisord.conf status   (pids; also: restart <name>)
    Rasa          rasa-fork-server forks the Rasa server and its workers and restarts them; their pids: {var}/run/
  try:  curl -s localhost:{rasa}/webhooks/rest/webhook -d '{{"sender":"u1","message":"怎么创建钱包"}}'
Ctrl-C stops them all.""", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
