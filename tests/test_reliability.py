"""Faults on the real servers (SPEC §6): the user never gets silence, nothing is lost, health says what is down.

The action server is killed, frozen (SIGSTOP: it accepts connections and never
answers) and killed together with the desk; the tracker store's database file
is corrupted and restored; Rasa is killed -9 in the middle of a form. Each
test puts the stack back as it found it.
"""

from __future__ import annotations

import signal
import time
import uuid

import pytest
import requests

from tests.servers import RunningStack, wait_until
from tests.test_servers import text_of

pytestmark = pytest.mark.timeout(600)
THEFT = "我的USDT被人转走了，不是我操作的"


def sender(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def health(stack: RunningStack) -> requests.Response:
    return requests.get(f"{stack.rasa_url}/webhooks/action_gateway/health", timeout=30)


def texts(replies) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def test_health_reports_each_dependency(stack):
    report = health(stack)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["status"] == "ok"
    assert {k: body[k] for k in ("model", "tracker_store", "action_server", "desk")} == {
        "model": "ok", "tracker_store": "ok", "action_server": "ok", "desk": "ok"}
    actions = requests.get(f"{stack.actions_url}/health", timeout=10)
    assert actions.status_code == 200 and actions.json()["desk"] == "ok"
    desk = requests.get(f"{stack.desk_url}/health", timeout=10).json()
    assert desk["database"] == "ok" and {"undelivered_agent_replies", "incident_deliveries_due"} <= set(desk)


def test_with_the_action_server_down_every_message_still_gets_a_useful_reply(stack, rasa_domain):
    stack.kill("actions")
    try:
        faq = stack.send("怎么创建钱包", sender=sender("down-faq"))
        # The curated answer, unchanged, and its feedback question (answers/feedback.py).
        assert texts(faq) == text_of("utter_create_wallet", "zh", rasa_domain) + "\n" + text_of("utter_ask_helpful", "zh", rasa_domain)

        victim = sender("down-theft")
        replies = texts(stack.send(THEFT, sender=victim))
        assert "助记词" in replies and "授权" in replies  # the safety checklist, sent by Rasa itself
        ticket = stack.open_ticket(victim, timeout=10)
        assert ticket is not None and ticket["priority"] == "P1" and ticket["id"] in replies

        unclear = texts(stack.send("那个怎么搞", sender=sender("down-other")))
        assert unclear == text_of("utter_service_degraded", "zh", rasa_domain)

        report = health(stack)
        assert report.status_code == 503 and report.json()["action_server"].startswith("unavailable")
        assert report.json()["action_failures_answered_by_gateway"] >= 2  # escalate, clarify (FAQ runs in Rasa itself)
    finally:
        stack.crash_and_restart("actions")
    assert health(stack).json()["action_server"] == "ok"


def test_a_frozen_action_server_is_answered_for_after_the_timeout_not_after_minutes(stack, rasa_domain):
    actions = stack.processes[list(stack.commands).index("actions")]
    actions.send_signal(signal.SIGSTOP)  # accepts connections, never answers
    try:
        started = time.monotonic()
        replies = stack.send("gas费是什么", sender=sender("frozen"))
        waited = time.monotonic() - started
        assert texts(replies) == text_of("utter_gas_fee", "zh", rasa_domain) + "\n" + text_of("utter_ask_helpful", "zh", rasa_domain)
        assert waited < 30  # the gateway's timeout (5 s in tests), not Rasa's 5 minutes
    finally:
        actions.send_signal(signal.SIGCONT)


def test_with_the_action_server_and_the_desk_down_an_escalation_is_kept_and_reaches_the_desk_after(stack):
    stack.kill("actions")
    stack.kill("desk")
    victim = sender("both-down")
    try:
        replies = texts(stack.send(THEFT, sender=victim))
        assert "助记词" in replies and "Q-" in replies  # checklist plus the reference of the kept request
        assert "T-" not in replies  # no invented ticket id
        report = health(stack).json()
        assert report["desk"].startswith("unavailable") and report["gateway_outbox_pending"] >= 1
        assert report["action_server"].startswith("unavailable")
    finally:
        stack.crash_and_restart("desk")
        stack.crash_and_restart("actions")
    ticket = stack.open_ticket(victim, timeout=30)
    assert ticket is not None and ticket["priority"] == "P1"
    assert wait_until(lambda: health(stack).json()["gateway_outbox_pending"] == 0, 30)


def test_a_broken_tracker_database_is_reported_and_the_message_kept_then_answered(stack, rasa_domain):
    user = sender("store")
    stack.send("你好", sender=user)
    # The database file and, in WAL mode (performance.optimisations), its log and index: the
    # latest turns live in the log until a checkpoint, so garbage in the main file alone goes unseen.
    files = [path for path in (stack.tracker_db, *(stack.tracker_db.with_name(stack.tracker_db.name + suffix)
                                                   for suffix in ("-wal", "-shm"))) if path.exists()]
    originals = {path: path.read_bytes() for path in files}
    for path in files:
        path.write_bytes(b"this is not a database" * max(200, len(originals[path]) // 22 + 1))
    try:
        replies = stack.send("怎么创建钱包", sender=user)
        assert texts(replies) == text_of("utter_storage_unavailable", "zh", rasa_domain)
        report = health(stack)
        assert report.status_code == 503 and report.json()["tracker_store"].startswith(("unavailable", "failing"))
        assert report.json()["spooled_messages"] >= 1
    finally:
        for path, content in originals.items():
            path.write_bytes(content)
    # Back: the kept message is answered in the conversation, which still has its history.
    def answered():
        events = stack.tracker_events(user)
        said = [e.get("text") for e in events if e.get("event") == "user"]
        bot = [e.get("text") for e in events if e.get("event") == "bot"]
        return said[:2] == ["你好", "怎么创建钱包"] and text_of("utter_create_wallet", "zh", rasa_domain) in bot
    assert wait_until(answered, 30), stack.tracker_events(user)
    assert wait_until(lambda: health(stack).json()["tracker_store"] == "ok", 30)


def test_rasa_killed_in_the_middle_of_a_form_resumes_with_history_and_slots(stack):
    user = sender("form")
    stack.send("我的USDT转账一直没到账", sender=user)
    asked = texts(stack.send("转人工", sender=user))
    assert "哪条链" in asked or "链" in asked  # transfer_details_form asks for the chain first
    stack.crash_and_restart("rasa")
    after = texts(stack.send("TRON", sender=user))
    assert "哈希" in after or "TxID" in after  # the form went on to the transaction hash
    events = stack.tracker_events(user)
    said = [e.get("text") for e in events if e.get("event") == "user"]
    assert said[:3] == ["我的USDT转账一直没到账", "转人工", "TRON"]
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots.get("chain") == "TRON"
