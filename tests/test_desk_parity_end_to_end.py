"""Issue #20 across the real servers: presence and auto-assignment, a private note the widget user
never receives, hand-back to the bot, a Telegram photo on the ticket (bytes never in the tracker
store or any log), reopen on writing again after a close.

Agents set themselves online through the desk's API with their own (agent-bound) tokens; each test
puts them offline again, since the stack is shared with the rest of the suite.
"""

import re
import sqlite3
import time
import uuid

import pytest
import requests

from tests.servers import TELEGRAM_BOT_TOKEN
from tests.socketio_user import SocketIOUser
from tests.test_telegram import private_message, wait_sent

THEFT = "我的USDT被人转走了，不是我操作的"
TICKET_ID = re.compile(r"T-[2-9A-HJ-NP-Z]{6}")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"PHOTO-BYTES-7c1e" * 64 + b"\xff\xd9"


@pytest.fixture(scope="module")
def agent_tokens(stack):
    tokens = {}
    for name in ("pat", "quinn"):
        created = stack.desk_cli("create-agent", name, "--role", "agent", "--password-stdin", stdin=f"{name}-password-1\n")
        assert created.returncode == 0 or "exists" in created.stderr, created.stderr
        token = stack.desk_cli("create-token", f"{name}-token", "--agent", name)
        assert token.returncode == 0, token.stderr
        tokens[name] = token.stdout.strip().splitlines()[-1]
    yield tokens
    for token in tokens.values():
        set_status(stack, token, "offline")


def set_status(stack, token, status):
    answer = requests.put(f"{stack.desk_url}/api/agents/me/status", json={"status": status},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def as_agent(stack, token, method, path, **kwargs):
    return requests.request(method, stack.desk_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs)


def rest_ticket(stack, sender, text=THEFT):
    stack.send(text, sender=sender)
    found = stack.open_ticket(sender)
    assert found is not None, f"no ticket for {sender}"
    return stack.desk("GET", f"/api/tickets/{found['id']}").json()


def test_an_online_agent_gets_the_theft_report_and_offline_leaves_it_in_the_queue(stack, agent_tokens):
    token = agent_tokens["pat"]
    assert set_status(stack, token, "online")["status"] == "online"
    try:
        first = rest_ticket(stack, "parity-" + uuid.uuid4().hex[:8])
        assert first["priority"] == "P1" and first["assignee"] == "pat"
        assert first["status"] == "open"  # assigned, not claimed yet
    finally:
        set_status(stack, token, "offline")
    # Going offline handed the unclaimed ticket back to the queue, and the next one waits there.
    assert stack.desk("GET", f"/api/tickets/{first['id']}").json()["assignee"] is None
    second = rest_ticket(stack, "parity-" + uuid.uuid4().hex[:8])
    assert second["assignee"] is None


def test_a_note_never_reaches_the_widget_user_and_a_hand_back_returns_them_to_the_bot(stack, agent_tokens):
    token = agent_tokens["quinn"]
    user = SocketIOUser(stack.rasa_url, "widget-" + uuid.uuid4().hex[:10])
    try:
        user.say(THEFT)
        opened = user.wait_for(lambda m: TICKET_ID.search(m.get("text") or ""))
        ticket_id = TICKET_ID.search(opened["text"]).group(0)
        assert as_agent(stack, token, "POST", f"/api/tickets/{ticket_id}/notes",
                        json={"text": "INTERNAL-NOTE-只给客服看"}).status_code == 201
        mark = len(user.received)
        assert as_agent(stack, token, "POST", f"/api/tickets/{ticket_id}/reply", json={"text": "我们正在处理"}).status_code == 201
        user.wait_for_text("人工客服：我们正在处理", since=mark)
        mark = len(user.received)
        handed = as_agent(stack, token, "POST", f"/api/tickets/{ticket_id}/handback")
        assert handed.status_code == 200 and handed.json()["outcome"] == "handed_back"
        user.wait_for_text("交回给我", since=mark)
        # The next message is the bot's again: a how-to question gets its curated answer, not "passed on".
        mark = len(user.received)
        user.say("怎么创建钱包")
        answer = user.wait_for(lambda m: "创建" in (m.get("text") or ""), since=mark)
        assert "已转给客服" not in answer["text"]
        time.sleep(1)
        assert not any("INTERNAL-NOTE" in (m.get("text") or "") for m in user.received)
        # The ticket's history stays: the note, the reply and the hand-back are on it.
        messages = stack.desk("GET", f"/api/tickets/{ticket_id}").json()["messages"]
        assert [m["from"] for m in messages if "INTERNAL-NOTE" in m["text"]] == ["note"]
        # Writing again soon after asks for the same ticket back, not a new one.
        mark = len(user.received)
        user.say(THEFT)
        again = user.wait_for(lambda m: TICKET_ID.search(m.get("text") or ""), since=mark)
        assert TICKET_ID.search(again["text"]).group(0) == ticket_id
    finally:
        user.close()


def test_a_telegram_photo_lands_on_the_ticket_and_its_bytes_nowhere_else(stack, telegram, agent_tokens):
    chat_id = 880000 + int(time.time()) % 10000
    telegram.add_file(f"photo-{chat_id}", JPEG)
    mark = len(telegram.calls)
    photo = [{"file_id": f"thumb-{chat_id}", "file_unique_id": "t", "width": 90, "height": 90, "file_size": 10},
             {"file_id": f"photo-{chat_id}", "file_unique_id": "p", "width": 800, "height": 600, "file_size": len(JPEG)}]
    assert stack.telegram_update(private_message(chat_id, photo=photo)).status_code == 200
    replies = wait_sent(telegram, chat_id, mark)
    assert replies and "已收到" in replies[0]["text"] and "助记词" in replies[0]["text"]
    ticket_id = TICKET_ID.search(replies[0]["text"]).group(0)
    listed = stack.desk("GET", f"/api/tickets/{ticket_id}/attachments").json()["attachments"]
    assert [a["content_type"] for a in listed] == ["image/jpeg"]
    served = as_agent(stack, agent_tokens["pat"], "GET", f"/api/attachments/{listed[0]['id']}")
    assert served.content == JPEG
    assert f"photo-{chat_id}" in telegram.downloads
    # The bytes never reach the tracker store or any log; the bot token of the file URL is not logged either.
    marker = b"PHOTO-BYTES-7c1e"
    with sqlite3.connect(stack.tracker_db) as db:
        rows = db.execute("SELECT data FROM events").fetchall()
    assert not any(marker.decode() in (row[0] or "") for row in rows)
    logs = stack.logs(tail=10**7)
    assert marker.decode() not in logs and f"bot{TELEGRAM_BOT_TOKEN}/photos" not in logs
