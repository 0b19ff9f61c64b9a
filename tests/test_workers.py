"""The Rasa worker process on the real servers: it runs most turns, and losing it costs no message.

The stack (tests/servers.py) runs as `make run` does: the front Rasa server,
one worker, the action server and the desk.
"""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.servers import RunningStack, wait_until
from tests.socketio_user import SocketIOUser
from tests.test_servers import text_of

pytestmark = pytest.mark.timeout(600)
WORKER = "rasa-worker-1"


def health(stack: RunningStack) -> requests.Response:
    return requests.get(f"{stack.rasa_url}/webhooks/action_gateway/health", timeout=30)


def new_sender(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_the_worker_runs_the_turns_and_they_are_answered_as_one_process_would(stack, rasa_domain):
    before = health(stack).json()
    assert before["workers"] == {stack.worker_urls[0]: "ok"}
    users = [new_sender("shared") for _ in range(10)]
    for user in users:
        assert [r.get("text") for r in stack.send("怎么创建钱包", sender=user)] == [
            text_of("utter_create_wallet", "zh", rasa_domain), text_of("utter_ask_helpful", "zh", rasa_domain)]
        assert stack.send("how do I back up my mnemonic", sender=user)[0]["text"] == text_of(
            "utter_backup_mnemonic", "en", rasa_domain)
    after = health(stack).json()
    # Every new conversation lives on the worker (front_share 0: the front only does I/O), two turns each.
    assert after["turns_run_by_workers"] - before["turns_run_by_workers"] == 20
    assert after["worker_turns_answered_here"] == before["worker_turns_answered_here"]
    for user in users:
        events = stack.tracker_events(user)
        assert [e["text"] for e in events if e["event"] == "user"] == ["怎么创建钱包", "how do I back up my mnemonic"]
        assert len([e for e in events if e["event"] == "bot"]) == 4  # two answers, each with its feedback question


def test_a_widget_whose_conversation_runs_on_the_worker_gets_its_answers_on_the_socket(stack, rasa_domain):
    before = health(stack).json()["turns_run_by_workers"]
    users = [SocketIOUser(stack.rasa_url) for _ in range(5)]
    try:
        for user in users:
            user.say("怎么创建钱包")
        for user in users:
            user.wait_for_text(text_of("utter_create_wallet", "zh", rasa_domain)[:9])
    finally:
        for user in users:
            user.close()
    assert health(stack).json()["turns_run_by_workers"] - before >= 3


def test_with_the_worker_killed_the_front_answers_every_message_and_health_says_so(stack, rasa_domain):
    started = [new_sender("started") for _ in range(5)]  # most of them live on the worker
    for user in started:
        stack.send("你好", sender=user)
    stack.kill(WORKER)
    try:
        answer = text_of("utter_create_wallet", "zh", rasa_domain)
        ask = text_of("utter_ask_helpful", "zh", rasa_domain)  # the feedback question after a curated answer
        for user in started + [new_sender("during") for _ in range(4)]:
            assert [r.get("text") for r in stack.send("怎么创建钱包", sender=user)] == [answer, ask]
        report = health(stack)
        assert report.status_code == 503 and report.json()["workers"][stack.worker_urls[0]].startswith("unavailable")
        assert report.json()["worker_turns_answered_here"] >= 1
        for user in started:
            assert [e["text"] for e in stack.tracker_events(user) if e["event"] == "user"] == ["你好", "怎么创建钱包"]
    finally:
        stack.crash_and_restart(WORKER)
    assert wait_until(lambda: health(stack).json()["status"] == "ok", 60)
    before = health(stack).json()["turns_run_by_workers"]

    def worker_used_again() -> bool:
        stack.send("你好", sender=new_sender("after"))
        return health(stack).json()["turns_run_by_workers"] > before
    assert wait_until(worker_used_again, 30)


def test_the_worker_route_takes_only_well_formed_requests_with_the_token(stack):
    url = f"{stack.worker_urls[0]}/webhooks/worker/webhook"
    token = stack.env["RASA_WORKER_TOKEN"]
    body = {"sender_id": "x", "text": "你好", "input_channel": "rest", "metadata": None}
    assert requests.post(url, json=body, timeout=30).status_code == 401
    assert requests.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=30).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    for bad in (b"{not json", b"[]", b'{"sender_id": "", "text": "hi", "input_channel": "rest"}',
                b'{"sender_id": "x", "input_channel": "rest"}',
                b'{"sender_id": "x", "text": "hi", "input_channel": "rest", "metadata": "no"}'):
        refused = requests.post(url, data=bad, headers=auth, timeout=30)
        assert refused.status_code == 400 and refused.json()["error"], bad
    answered = requests.post(url, json={**body, "sender_id": new_sender("direct")}, headers=auth, timeout=60)
    assert answered.status_code == 200 and answered.json()["messages"][0]["text"]
