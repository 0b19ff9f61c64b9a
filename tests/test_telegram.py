"""The Telegram channel against the real Rasa server, with a loopback stand-in for the Bot API.

Updates are the JSON Telegram sends (https://core.telegram.org/bots/api#update);
the stand-in records what the bot sends back.
"""

import itertools
import time

import pytest
import requests

from tests.servers import TELEGRAM_BOT_TOKEN, TELEGRAM_BOT_USERNAME

_ids = itertools.count(int(time.time()) % 100000 * 1000)


def update_id():
    return next(_ids)


def private_message(chat_id, text=None, language="zh-hans", **extra):
    message = {"message_id": update_id(), "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
               "from": {"id": chat_id, "is_bot": False, "first_name": "U", "language_code": language}, **extra}
    if text is not None:
        message["text"] = text
    return {"update_id": update_id(), "message": message}


def sent_to(telegram, chat_id, since=0, method="sendMessage"):
    return [c.body for c in telegram.calls[since:] if c.method == method and str(c.body.get("chat_id")) == str(chat_id)]


def wait_sent(telegram, chat_id, since=0, count=1, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sent_to(telegram, chat_id, since)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    return sent_to(telegram, chat_id, since)


def test_a_private_text_message_is_answered_through_the_bot_api(stack, telegram):
    mark = len(telegram.calls)
    answer = stack.telegram_update(private_message(7001, "怎么创建钱包"))
    assert answer.status_code == 200
    replies = wait_sent(telegram, 7001, mark)
    assert replies and "创建" in replies[0]["text"]
    assert all(c.token == TELEGRAM_BOT_TOKEN for c in telegram.calls[mark:] if str(c.body.get("chat_id")) == "7001")


def test_a_wrong_or_missing_secret_is_refused(stack, telegram):
    mark = len(telegram.calls)
    assert stack.telegram_update(private_message(7002, "你好"), secret="wrong").status_code == 403
    assert stack.telegram_update(private_message(7002, "你好"), secret="").status_code == 403
    time.sleep(1)
    assert sent_to(telegram, 7002, mark) == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}'])
def test_malformed_updates_get_400(stack, body):
    answer = requests.post(f"{stack.rasa_url}/webhooks/telegram/webhook", data=body, timeout=30,
                           headers={"X-Telegram-Bot-Api-Secret-Token": stack.telegram_secret, "content-type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"]


def test_a_redelivered_update_is_handled_once_even_after_a_restart(stack, telegram):
    update = private_message(7003, "转账手续费是多少")
    mark = len(telegram.calls)
    assert stack.telegram_update(update).status_code == 200
    first = wait_sent(telegram, 7003, mark)
    assert first
    again = stack.telegram_update(update)
    assert again.status_code == 200 and "duplicate" in again.json()["status"]
    stack.crash_and_restart("rasa")
    after_restart = stack.telegram_update(update)
    assert after_restart.status_code == 200 and "duplicate" in after_restart.json()["status"]
    time.sleep(1)
    assert len(sent_to(telegram, 7003, mark)) == len(first)


@pytest.mark.parametrize("kind, payload", [
    ("photo", [{"file_id": "AgACphoto", "width": 90, "height": 90}]),
    ("document", {"file_id": "BQACdoc", "file_name": "screenshot.pdf"}),
    ("sticker", {"file_id": "CAACsticker", "width": 512, "height": 512, "is_animated": False}),
    ("voice", {"file_id": "AwACvoice", "duration": 3}),
])
def test_non_text_messages_get_a_polite_request_for_text(stack, telegram, kind, payload):
    chat = 7100 + len(kind)
    mark = len(telegram.calls)
    answer = stack.telegram_update(private_message(chat, **{kind: payload}))
    assert answer.status_code == 200
    replies = wait_sent(telegram, chat, mark)
    assert replies and "文字" in replies[0]["text"]


def test_a_photo_during_a_ticket_is_noted_on_the_ticket(stack, telegram):
    chat = 7200
    stack.telegram_update(private_message(chat, "我要人工客服"))
    ticket = stack.open_ticket(f"telegram:{chat}")
    assert ticket and ticket["channel"] == "telegram"
    stack.telegram_update(private_message(chat, photo=[{"file_id": "AgACproof", "width": 1, "height": 1}]))
    messages = stack.desk("GET", f"/api/tickets/{ticket['id']}").json()["messages"]
    assert any("photo" in m["text"] and "AgACproof" in m["text"] for m in messages)


def test_agent_replies_reach_the_telegram_chat(stack, telegram):
    chat = 7300
    stack.telegram_update(private_message(chat, "我的币被盗了，不是我操作的"))
    ticket = stack.open_ticket(f"telegram:{chat}")
    mark = len(telegram.calls)
    assert stack.desk("POST", f"/api/tickets/{ticket['id']}/reply", json={"text": "您好，请提供被盗地址"}).status_code == 201
    replies = wait_sent(telegram, chat, mark)
    assert replies and replies[0]["text"] == "人工客服：您好，请提供被盗地址"


def test_a_reply_telegram_refuses_is_undelivered_and_goes_out_once_when_retried_later(stack, telegram):
    chat = 7310
    stack.telegram_update(private_message(chat, "我的币被盗了，不是我操作的"))
    ticket = stack.open_ticket(f"telegram:{chat}")
    telegram.blocked_chats.add(str(chat))  # the user blocked the bot: sendMessage answers 403
    try:
        assert stack.desk("POST", f"/api/tickets/{ticket['id']}/reply", json={"text": "请提供被盗地址"}).status_code == 201
        undelivered = stack.agent_replies(ticket["id"], "undelivered")
        assert undelivered[0]["delivery"] == "undelivered" and undelivered[0]["delivered_at"] is None, undelivered
        assert "403" in undelivered[0]["last_error"]
    finally:
        telegram.blocked_chats.discard(str(chat))
    mark = len(telegram.calls)
    delivered = stack.agent_replies(ticket["id"], "delivered")  # the desk's retry loop, a few seconds later
    assert delivered[0]["delivery"] == "delivered", delivered
    time.sleep(6)  # one more retry round: a delivered reply is not sent again
    assert [c["text"] for c in sent_to(telegram, chat, mark)] == ["人工客服：请提供被盗地址"]


def test_buttons_become_an_inline_keyboard_and_presses_are_answered(stack, telegram):
    chat = 7400
    mark = len(telegram.calls)
    stack.telegram_update(private_message(chat, "那个怎么搞"))
    replies = wait_sent(telegram, chat, mark)
    keyboards = [r["reply_markup"]["inline_keyboard"] for r in replies if "reply_markup" in r]
    assert keyboards and all(len(row[0]["callback_data"].encode()) <= 64 for row in keyboards[0])
    payload = keyboards[0][0][0]["callback_data"]
    mark = len(telegram.calls)
    press = {"update_id": update_id(), "callback_query": {
        "id": "cbq-1", "from": {"id": chat, "is_bot": False, "first_name": "U"}, "data": payload,
        "message": {"message_id": 1, "date": int(time.time()), "chat": {"id": chat, "type": "private"}}}}
    assert stack.telegram_update(press).status_code == 200
    assert wait_sent(telegram, chat, mark)
    assert any(c.method == "answerCallbackQuery" and c.body["callback_query_id"] == "cbq-1" for c in telegram.calls[mark:])


def test_groups_only_get_a_private_chat_hint_when_addressed(stack, telegram):
    group = -5005
    base = {"chat": {"id": group, "type": "supergroup", "title": "Wallet users"},
            "from": {"id": 42, "is_bot": False, "first_name": "U", "language_code": "zh"}, "date": int(time.time())}
    mark = len(telegram.calls)
    stack.telegram_update({"update_id": update_id(), "message": {**base, "message_id": 1, "text": "大家好，我的助记词是什么来着"}})
    time.sleep(1)
    assert sent_to(telegram, group, mark) == []
    stack.telegram_update({"update_id": update_id(), "message": {**base, "message_id": 2, "text": f"@{TELEGRAM_BOT_USERNAME} 转账卡住了"}})
    replies = wait_sent(telegram, group, mark)
    assert len(replies) == 1 and "私聊" in replies[0]["text"]


def test_membership_and_other_updates_are_acknowledged_quietly(stack, telegram):
    mark = len(telegram.calls)
    member = {"update_id": update_id(), "my_chat_member": {
        "chat": {"id": 7500, "type": "private"}, "from": {"id": 7500, "is_bot": False, "first_name": "U"}, "date": 1,
        "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "B"}},
        "new_chat_member": {"status": "kicked", "user": {"id": 1, "is_bot": True, "first_name": "B"}}}}
    assert stack.telegram_update(member).status_code == 200
    assert stack.telegram_update({"update_id": update_id(), "poll": {"id": "p"}}).status_code == 200
    edited = {"update_id": update_id(), "edited_message": private_message(7501, "怎么导入钱包")["message"]}
    assert stack.telegram_update(edited).status_code == 200
    assert wait_sent(telegram, 7501, mark)
    assert sent_to(telegram, 7500, mark) == []


def test_set_webhook_needs_the_operator_token(stack, telegram):
    assert requests.post(f"{stack.rasa_url}/webhooks/telegram/set_webhook", timeout=30).status_code == 401
    mark = len(telegram.calls)
    ok = requests.post(f"{stack.rasa_url}/webhooks/telegram/set_webhook", params={"token": stack.api_token}, timeout=30)
    assert ok.status_code == 200, ok.text
    calls = [c for c in telegram.calls[mark:] if c.method == "setWebhook"]
    assert calls and calls[0].body["secret_token"] == stack.telegram_secret
    assert "my_chat_member" in calls[0].body["allowed_updates"]


def test_a_pasted_mnemonic_on_telegram_is_hidden_and_warned_about(stack, telegram):
    from mnemonic import Mnemonic

    words = Mnemonic("english").generate(128)
    mark = len(telegram.calls)
    stack.telegram_update(private_message(7600, f"my seed phrase is {words}", language="en"))
    replies = wait_sent(telegram, 7600, mark)
    assert replies and any("never" in r["text"].lower() or "anyone" in r["text"].lower() for r in replies)
    import sqlite3
    with sqlite3.connect(stack.tracker_db) as db:
        stored = " ".join(r[0] for r in db.execute("select data from events where sender_id = '7600'"))
    from tests.test_secrets_end_to_end import leaked

    # No run of 4 consecutive words: single English BIP-39 words ("act", "any") occur in any JSON.
    assert not leaked(words.split(), stored)


def test_a_rest_caller_cannot_speak_in_a_telegram_users_conversation(stack, telegram):
    """Chat ids are not secret: naming one over REST must not reach that user's ticket or replies."""
    chat = 7600
    stack.telegram_update(private_message(chat, "我的币被盗了，不是我操作的"))
    ticket = stack.open_ticket(f"telegram:{chat}")
    assert ticket and ticket["channel"] == "telegram"
    for sender in (f"telegram:{chat}", f"Telegram:{chat}"):
        refused = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                                json={"sender": sender, "message": "工单进度"}, timeout=30)
        assert refused.status_code == 403 and "another channel" in refused.json()["error"]
        assert "其他渠道" in refused.json()["message"]["zh"] and "another channel" in refused.json()["message"]["en"]
    # The bare chat id over REST is a different, REST-owned conversation: no ticket id of theirs leaks.
    answer = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                           json={"sender": str(chat), "message": "工单进度"}, timeout=60)
    assert answer.status_code == 200 and ticket["id"] not in " ".join(m.get("text", "") for m in answer.json())
    # The agent's reply still goes to Telegram, not to the REST caller's conversation.
    mark = len(telegram.calls)
    assert stack.desk("POST", f"/api/tickets/{ticket['id']}/reply", json={"text": "请稍候"}).status_code == 201
    assert wait_sent(telegram, chat, mark)
    assert all(e.get("event") != "user" for e in stack.tracker_events(f"telegram:{chat}")
               if e.get("input_channel") == "rest")


def test_answer_feedback_is_an_inline_keyboard_and_a_thumbs_down_reaches_the_nlu_inbox(stack, telegram):
    chat = 7450
    mark = len(telegram.calls)
    stack.telegram_update(private_message(chat, "怎么备份助记词"))
    replies = wait_sent(telegram, chat, mark, count=2)
    asked = [r for r in replies if r.get("text") == "有帮助吗？"]
    assert asked, replies
    buttons = asked[0]["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in buttons] == ["👍 有帮助", "👎 没帮助"]
    mark = len(telegram.calls)
    press = {"update_id": update_id(), "callback_query": {
        "id": "cbq-feedback", "from": {"id": chat, "is_bot": False, "first_name": "U"}, "data": buttons[1][0]["callback_data"],
        "message": {"message_id": 2, "date": int(time.time()), "chat": {"id": chat, "type": "private"}}}}
    assert stack.telegram_update(press).status_code == 200
    sorry = wait_sent(telegram, chat, mark)
    assert sorry and "转人工" in str(sorry[0].get("reply_markup")), sorry
    items = stack.desk("GET", "/api/nlu/inbox?status=pending&reason=not_helpful&channel=telegram").json()["items"]
    assert [i["text"] for i in items if i["conversation_id"] == f"telegram:{chat}"] == ["怎么备份助记词"]
