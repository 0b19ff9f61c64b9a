"""Stock Rasa for side-by-side benchmarks: ``rasa run`` as it comes, with the same model."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.servers import free_ports, latest_model

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class StockRasa:
    """``rasa run`` as it comes: the rest channel, SQLTrackerStore on SQLite, actions over HTTP.

    The action server is ours (the same actions), without a desk, so it does strictly less work.
    Rasa runs from the project root: the model names its spaCy pipeline by a path relative to it
    (``var/spacy/zh_wallet``); elsewhere the model does not load, Rasa still answers ``GET /`` and
    every message gets an empty answer. So it counts as started only once it answers a message.
    """

    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        rasa_port, actions_port = free_ports(2)
        token = secrets.token_urlsafe(24)
        (work / "endpoints.yml").write_text(
            f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n  token: {token}\n"
            f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {work / 'stock.db'}\n", encoding="utf-8")
        (work / "credentials.yml").write_text("rest:\n", encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "ACTION_SERVER_TOKEN": token}
        for key in ("DESK_API_TOKEN", "DESK_URL"):
            env.pop(key, None)  # no desk: the stock action server does strictly less work
        log = open(work / "stock.log", "ab")
        self.processes = [
            subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(actions_port)], cwd=PROJECT_ROOT,
                             env=env, stdout=log, stderr=subprocess.STDOUT),
            subprocess.Popen([sys.executable, "-m", "rasa", "run", "--model", str(latest_model()), "--endpoints",
                              str(work / "endpoints.yml"), "--credentials", str(work / "credentials.yml"), "--port",
                              str(rasa_port)], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT),
        ]
        self.url = f"http://127.0.0.1:{rasa_port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url, timeout=5).status_code == 200:
                    answer = requests.post(f"{self.url}/webhooks/rest/webhook", timeout=60,
                                           json={"sender": "stock-ready", "message": "你好"})
                    if answer.status_code == 200 and answer.json():
                        return
                    self.stop()
                    raise RuntimeError(f"stock rasa answers nothing (model not loaded? see {work / 'stock.log'})")
            except requests.RequestException:
                time.sleep(1)
        self.stop()
        raise RuntimeError("stock rasa did not start")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=60)
