"""Incident mode across the real servers (SPEC §4): an outage flood answered before it reaches the queue.

A supervisor's script opens "App 无法连接" on ``app_connectivity`` through the
desk's JSON API. Fifty users on REST, socket.io and Telegram ask variants of
"the app does not open"; each gets the notice and no ticket, and the desk
counts them. Twenty press "notify me when fixed". A theft report during the
incident still opens a P1 ticket; a user who insists on a person gets a ticket
linked to the incident. Resolving it delivers exactly one message to each
subscriber on their own channel, and a subscriber who blocked the Telegram bot
is retried without holding up the others.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

import pytest
import requests

from tests.servers import wait_until
from tests.socketio_user import SocketIOUser
from tests.test_telegram import private_message, update_id

pytestmark = pytest.mark.timeout(600)

TITLE = "App 无法连接"
NOTICE_ZH = "部分地区节点故障导致 App 无法连接，工程师正在切换备用节点。"
NOTICE_EN = "A node failure stops the app from connecting in some regions; engineers are switching to backup nodes."
FIXED_ZH = "节点已全部恢复，请重新打开 App。"
FIXED_EN = "All nodes are back; please reopen the app."
SUBSCRIBED = "恢复后我会第一时间在这里通知你"
QUESTIONS = ["app打不开", "app一直转圈", "网络错误", "APP打不开了怎么回事", "钱包一直转圈加载不出来", "提示网络错误",
             "app连不上", "TP钱包打不开"]
REST_USERS, SOCKET_USERS, TELEGRAM_USERS = 30, 14, 6
SUBSCRIBE_PAYLOAD = "/incident_subscribe"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def tracker_bot_texts(stack, conversation_id: str) -> List[str]:
    return [e.get("text") or "" for e in stack.tracker_events(conversation_id) if e.get("event") == "bot"]


def telegram_texts(telegram, chat_id: int) -> List[str]:
    return [c.body.get("text") or "" for c in telegram.calls_to("sendMessage") if str(c.body.get("chat_id")) == str(chat_id)]


@pytest.fixture
def outage(stack):
    """The incident, created as an operator's script would; resolved afterwards whatever happens."""
    created = stack.desk("POST", "/api/incidents", json={
        "title": TITLE, "message_zh": NOTICE_ZH, "message_en": NOTICE_EN,
        "intents": ["app_connectivity"], "status": "investigating", "eta": 90})
    assert created.status_code == 201, created.text
    incident = created.json()
    yield incident
    if stack.desk("GET", f"/api/incidents/{incident['id']}").json()["status"] != "resolved":
        stack.desk("POST", f"/api/incidents/{incident['id']}/resolve", json={"message_zh": "测试结束", "message_en": "end of test"})
    time.sleep(2.5)  # the bot's cached list of active incidents expires


def counts(stack, incident_id: str) -> Dict[str, object]:
    return stack.desk("GET", f"/api/incidents/{incident_id}").json()["counts"]


def test_an_outage_flood_gets_the_notice_no_tickets_and_subscribers_hear_of_the_fix(stack, telegram, outage):
    incident_id = outage["id"]
    # The bot's view of active incidents is at most a couple of seconds old.
    probe = new_id("probe")
    assert wait_until(lambda: any(TITLE in (r.get("text") or "") for r in stack.send("app打不开", sender=probe)), 10)

    # ----- 50 users ask at once, on every channel ---------------------------
    rest_users = [new_id("flood") for _ in range(REST_USERS - 1)] + [probe]
    socket_users = [SocketIOUser(stack.rasa_url) for _ in range(SOCKET_USERS)]
    chats = [880_000 + n for n in range(TELEGRAM_USERS)]
    try:
        def ask_rest(n: int) -> List[dict]:
            return stack.send(QUESTIONS[n % len(QUESTIONS)], sender=rest_users[n])

        with ThreadPoolExecutor(max_workers=8) as pool:
            rest_replies = list(pool.map(ask_rest, range(REST_USERS - 1)))
            for n, user in enumerate(socket_users):
                user.say(QUESTIONS[(n + 3) % len(QUESTIONS)])
            telegram_answers = list(pool.map(
                lambda n: stack.telegram_update(private_message(chats[n], QUESTIONS[(n + 5) % len(QUESTIONS)])), range(TELEGRAM_USERS)))
        for replies in rest_replies:
            notice = next(r for r in replies if TITLE in (r.get("text") or ""))
            assert NOTICE_ZH in notice["text"] and notice["buttons"] == [{"title": "恢复后通知我", "payload": SUBSCRIBE_PAYLOAD}]
        for user in socket_users:
            notice = user.wait_for_text(TITLE, timeout=60)
            assert NOTICE_ZH in notice["text"] and notice["quick_replies"][0]["payload"] == SUBSCRIBE_PAYLOAD
        assert all(answer.status_code == 200 for answer in telegram_answers)
        for chat in chats:
            keyboards = [c.body for c in telegram.calls_to("sendMessage")
                         if str(c.body.get("chat_id")) == str(chat) and TITLE in (c.body.get("text") or "")]
            assert keyboards and keyboards[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == SUBSCRIBE_PAYLOAD

        conversations = set(rest_users) | {u.session_id for u in socket_users} | {str(c) for c in chats}
        assert len(conversations) == 50
        tickets = stack.desk("GET", "/api/tickets?status=all").json()["tickets"]
        assert [t for t in tickets if t["conversation_id"] in conversations] == []  # 0 tickets
        assert counts(stack, incident_id)["asked"] == 50

        # ----- 20 subscribe: button presses on every channel ---------------------
        rest_subscribers, socket_subscribers, telegram_subscribers = rest_users[:10], socket_users[:6], chats[:4]
        for sender in rest_subscribers:
            assert any(SUBSCRIBED in (r.get("text") or "") for r in stack.send(SUBSCRIBE_PAYLOAD, sender=sender))
        for user in socket_subscribers:
            mark = len(user.received)
            user.say(SUBSCRIBE_PAYLOAD)
            user.wait_for_text(SUBSCRIBED, since=mark)
        for n, chat in enumerate(telegram_subscribers):
            press = {"update_id": update_id(), "callback_query": {
                "id": f"cb-{chat}", "from": {"id": chat, "is_bot": False, "first_name": "U", "language_code": "zh-hans"},
                "message": {"message_id": 1, "chat": {"id": chat, "type": "private"}, "date": int(time.time())},
                "chat_instance": "1", "data": SUBSCRIBE_PAYLOAD}}
            assert stack.telegram_update(press).status_code == 200
            assert any(SUBSCRIBED in t for t in telegram_texts(telegram, chat))
        assert counts(stack, incident_id)["subscribed"] == 20

        # A 21st subscriber has since blocked the bot: Telegram refuses to deliver to it.
        blocked = 889_999
        stack.telegram_update(private_message(blocked, "app打不开"))
        stack.telegram_update(private_message(blocked, "恢复后通知我"))
        assert any(SUBSCRIBED in t for t in telegram_texts(telegram, blocked))
        telegram.blocked_chats.add(str(blocked))

        # ----- what still reaches a person ----------------------------------------
        insisting = rest_users[20]
        deflected = stack.send("转人工", sender=insisting)
        assert any(TITLE in (r.get("text") or "") and "再说一次" in r["text"] for r in deflected)
        assert stack.open_ticket(insisting, timeout=1) is None
        assert counts(stack, incident_id)["deflected"] == 1
        stack.send("我还是要人工客服", sender=insisting)
        linked = stack.open_ticket(insisting)
        assert linked is not None and linked["incident"] == incident_id

        victim = new_id("theft")
        stack.send("app打不开", sender=victim)
        replies = stack.send("我的USDT被人转走了，不是我操作的", sender=victim)
        assert not any(TITLE in (r.get("text") or "") for r in replies)
        theft_ticket = stack.open_ticket(victim)
        assert theft_ticket is not None and theft_ticket["priority"] == "P1"

        # ----- the fix: one message to each subscriber, on their channel ------------
        socket_marks = {u.session_id: len(u.received) for u in socket_users}
        resolved = stack.desk("POST", f"/api/incidents/{incident_id}/resolve",
                              json={"message_zh": FIXED_ZH, "message_en": FIXED_EN})
        assert resolved.status_code == 200 and resolved.json()["incident"]["status"] == "resolved"
        assert wait_until(lambda: counts(stack, incident_id)["deliveries"]["sent"] >= 20, timeout=90), counts(stack, incident_id)
        time.sleep(3)  # room for a duplicate to show up, if there were one

        for sender in rest_subscribers:
            assert sum(FIXED_ZH in t for t in tracker_bot_texts(stack, sender)) == 1, sender
        for user in socket_users:
            got = sum(FIXED_ZH in t for t in user.texts()[socket_marks[user.session_id]:])
            assert got == (1 if user in socket_subscribers else 0), user.session_id
        for chat in chats:
            assert sum(FIXED_ZH in t for t in telegram_texts(telegram, chat)) == (1 if chat in telegram_subscribers else 0)
        for sender in rest_users[10:12]:
            assert not any(FIXED_ZH in t for t in tracker_bot_texts(stack, sender))  # asked, never subscribed

        final = counts(stack, incident_id)
        assert final["deliveries"]["sent"] == 20 and final["deliveries"]["pending"] + final["deliveries"]["failed"] == 1
        detail = stack.desk("GET", f"/api/incidents/{incident_id}").json()
        assert [u["status"] for u in detail["updates"]] == ["investigating", "resolved"]
        assert detail["updates"][-1]["notified"] is True
        failed = stack.desk("GET", f"/api/conversations/telegram:{blocked}/incident-notices").json()["notices"]
        assert len(failed) == 1  # still waiting to be retried, never marked sent
    finally:
        for user in socket_users:
            user.close()
        telegram.blocked_chats.discard("889999")


def test_incident_api_refuses_bad_requests_with_reasons(stack, outage):
    for body, reason in [({"title": "x"}, "message_zh"),
                         ({"title": "盗币", "message_zh": "a", "message_en": "b", "intents": ["suspected_theft"]}, "theft")]:
        refused = stack.desk("POST", "/api/incidents", json=body)
        assert refused.status_code == 400 and reason in refused.json()["error"]
    assert stack.desk("POST", "/api/incidents/INC-NOPE0/updates", json={"status": "monitoring"}).status_code == 404
    assert stack.desk("POST", f"/api/incidents/{outage['id']}/updates", data="{not json").status_code == 400
    assert requests.post(f"{stack.desk_url}/api/incidents", json={}, timeout=10).status_code == 401
    banner = requests.get(f"{stack.desk_url}/widget/incidents?lang=en", timeout=10).json()["incidents"]
    assert [(b["id"], b["message"]) for b in banner] == [(outage["id"], NOTICE_EN)]
    assert stack.desk("GET", "/api/incidents?status=active&counts=maybe").status_code == 400
    with_counts, for_the_bot = (stack.desk("GET", f"/api/incidents?status=active{flag}").json()["incidents"]
                                for flag in ("", "&counts=false"))
    assert [i["id"] for i in for_the_bot] == [i["id"] for i in with_counts] == [outage["id"]]
    assert "counts" in with_counts[0] and "counts" not in for_the_bot[0]


def test_operators_can_script_incidents_with_the_cli(stack):
    created = stack.desk_cli("incident", "create", "--title", "TRON 转账拥堵", "--intents", "stuck_transaction",
                             "--chains", "TRON", "--message-zh", "TRON 网络拥堵，转账确认变慢。",
                             "--message-en", "TRON is congested; transfers confirm slowly.", "--eta", "60")
    assert created.returncode == 0, created.stderr
    import json

    incident = json.loads(created.stdout)
    try:
        assert incident["chains"] == ["TRON"] and incident["eta"]
        time.sleep(2.5)
        sender = new_id("tron")
        replies = " ".join(r.get("text") or "" for r in stack.send("我的TRC20 USDT转账一直pending", sender=sender))
        assert "TRON 转账拥堵" in replies
        other = " ".join(r.get("text") or "" for r in stack.send("我的ERC20转账一直pending没到账", sender=new_id("eth")))
        assert "TRON 转账拥堵" not in other  # another chain: the usual answer
        updated = stack.desk_cli("incident", "update", incident["id"], "--status", "monitoring",
                                 "--message-zh", "已扩容，正在观察。", "--message-en", "Scaled up; monitoring.")
        assert updated.returncode == 0 and json.loads(updated.stdout)["status"] == "monitoring"
    finally:
        resolved = stack.desk_cli("incident", "resolve", incident["id"], "--message-zh", "已恢复。", "--message-en", "Fixed.")
        assert resolved.returncode == 0, resolved.stderr
        time.sleep(2.5)
    assert json.loads(resolved.stdout)["status"] == "resolved"
