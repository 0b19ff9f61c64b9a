"""The scale-out profile (deploy/scaleout.py) for real: PostgreSQL, Redis, nginx, two Rasa processes, two action servers.

Messages of the same conversations are interleaved across both Rasa processes,
one after another and at the same moment; every message must be processed
exactly once, in order, with a tracker both processes read alike. Requests
through nginx (REST and socket.io) and an escalation to the desk on
PostgreSQL go end to end. CI installs the Debian packages (scripts/install-system-packages.sh).
"""

from __future__ import annotations

import os
import random
import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from deploy.scaleout import Deployment, Ports, missing_binaries
from tests.socketio_user import SocketIOUser

pytestmark = [
    pytest.mark.skipif(bool(missing_binaries()) and os.environ.get("CI") != "true",
                       reason=f"Debian packages missing: {missing_binaries()} (CI installs them)"),
    pytest.mark.timeout(900),
]
SCRIPT = ["你好", "怎么创建钱包", "gas费是什么", "app打不开", "怎么导入钱包", "谢谢"]


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _base_port() -> int:
    """A base port whose whole block (nginx, Rasa, actions, desk, PostgreSQL, Redis) is free."""
    for _attempt in range(100):
        base = random.randrange(200, 600) * 100
        ports = Ports(base)
        if all(_free(p) for p in [base, *ports.rasa(2), ports.nginx_actions, *ports.actions(2), ports.desk,
                                   ports.postgres, ports.redis]):
            return base
    raise RuntimeError("no free block of ports")


@pytest.fixture(scope="module")
def scaleout(tmp_path_factory):
    root = tmp_path_factory.mktemp("scaleout")
    os.chmod(root, 0o755)
    for parent in root.parents:  # the postgres user must reach its cluster folder
        if parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o005)
    deployment = Deployment(root, Ports(_base_port()))
    try:
        target = deployment.start()
    except BaseException:
        deployment.stop()
        print("\n".join(p.read_text(errors="replace")[-3000:] for p in (root / "logs").glob("*.log")))
        raise
    yield target
    deployment.stop()


def send(url: str, sender: str, text: str) -> list:
    answer = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120)
    answer.raise_for_status()
    return answer.json()


def tracker(target, url: str, sender: str) -> list:
    answer = requests.get(f"{url}/conversations/{sender}/tracker", params={"token": target["rasa_token"]}, timeout=60)
    answer.raise_for_status()
    return answer.json()["events"]


def user_texts(events) -> list:
    return [e["text"] for e in events if e.get("event") == "user"]


def replies_per_user_message(events) -> list:
    counts = []
    for event in events:
        if event.get("event") == "user":
            counts.append(0)
        elif event.get("event") == "bot" and counts:
            counts[-1] += 1
    return counts


def test_both_rasa_processes_use_postgres_and_the_redis_lock_store(scaleout):
    for url in scaleout["rasa_processes"]:
        report = requests.get(f"{url}/webhooks/action_gateway/health", timeout=30).json()
        assert report["tracker_store"] == "ok" and report["lock_store"] == "ok (redis)", report
        assert report["action_server"] == "ok" and report["desk"] == "ok", report


def test_interleaved_conversations_are_processed_once_and_in_order(scaleout):
    first, second = scaleout["rasa_processes"]
    senders = [f"inter-{uuid.uuid4().hex[:8]}" for _ in range(16)]

    def converse(sender: str) -> None:
        for n, text in enumerate(SCRIPT):
            assert send(first if n % 2 == 0 else second, sender, text), (sender, text)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(converse, senders))
    for sender in senders:
        seen_by_first, seen_by_second = tracker(scaleout, first, sender), tracker(scaleout, second, sender)
        assert user_texts(seen_by_first) == SCRIPT, sender
        assert all(count >= 1 for count in replies_per_user_message(seen_by_first)), sender
        assert [e.get("timestamp") for e in seen_by_first] == [e.get("timestamp") for e in seen_by_second]


def test_simultaneous_messages_of_one_conversation_on_both_processes_are_each_processed_once(scaleout):
    first, second = scaleout["rasa_processes"]
    senders = [f"burst-{uuid.uuid4().hex[:8]}" for _ in range(10)]
    for sender in senders:
        send(first, sender, "你好")
    barrier = threading.Barrier(len(senders) * 2)

    def at_once(url: str, sender: str, text: str) -> list:
        barrier.wait(timeout=60)
        return send(url, sender, text)

    with ThreadPoolExecutor(max_workers=len(senders) * 2) as pool:
        futures = [pool.submit(at_once, url, sender, text) for sender in senders
                   for url, text in ((first, "怎么创建钱包"), (second, "gas费是什么"))]
        assert all(f.result() for f in futures)
    for sender in senders:
        events = tracker(scaleout, second, sender)
        said = user_texts(events)
        assert said[0] == "你好" and sorted(said[1:]) == sorted(["怎么创建钱包", "gas费是什么"]), said
        assert all(count >= 1 for count in replies_per_user_message(events))


def test_nginx_serves_rest_socketio_and_an_escalation_reaches_the_desk_on_postgres(scaleout):
    sender = f"nginx-{uuid.uuid4().hex[:8]}"
    replies = send(scaleout["rasa_url"], sender, "我的USDT被人转走了，不是我操作的")
    assert any("T-" in (r.get("text") or "") for r in replies)
    tickets = requests.get(f"{scaleout['desk_url']}/api/tickets?status=open",
                           headers={"Authorization": f"Bearer {scaleout['ops_token']}"}, timeout=30).json()["tickets"]
    mine = [t for t in tickets if t["conversation_id"] == sender]
    assert mine and mine[0]["priority"] == "P1"

    user = SocketIOUser(scaleout["rasa_url"])
    try:
        user.say("怎么创建钱包")
        user.wait_for_text("创建", timeout=60)
        user.say("我的币被盗了，不是我操作的")
        opened = user.wait_for(lambda m: "T-" in (m.get("text") or ""), timeout=60)
        ticket_id = re.search(r"T-[2-9A-HJ-NP-Z]{6}", opened["text"]).group(0)
        # The agent's reply is triggered through nginx on whichever process; Redis carries it to the socket.
        sent = requests.post(f"{scaleout['desk_url']}/api/tickets/{ticket_id}/reply", json={"text": "您好，这里是客服。"},
                             headers={"Authorization": f"Bearer {scaleout['ops_token']}"}, timeout=30)
        assert sent.status_code == 201, sent.text
        user.wait_for_text("您好，这里是客服", timeout=60)
    finally:
        user.close()
