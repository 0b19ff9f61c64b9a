"""The bad-input corpus through REST, Telegram and socket.io: no 5xx, no silence, no crash."""

import pytest
import requests

from tests.bad_inputs import corpus

pytestmark = pytest.mark.timeout(900)


def test_the_corpus_is_big_enough():
    assert len(corpus()) >= 200


def test_every_odd_message_gets_an_answer_and_the_servers_survive(stack):
    problems = []
    for number, message in enumerate(corpus()):
        reply = requests.post(
            f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": f"bad-{number}", "message": message}, timeout=60
        )
        if reply.status_code >= 500:
            problems.append((message, reply.status_code))
        elif reply.status_code == 200 and not any(r.get("text") for r in reply.json()):
            problems.append((message, "silence"))
        elif 400 <= reply.status_code < 500 and not reply.json().get("error"):
            problems.append((message, "4xx without a reason"))
    assert not problems, problems[:10]
    assert all(p.poll() is None for p in stack.processes), stack.logs()


def test_the_corpus_through_telegram_gets_200_and_a_reply_every_time(stack, telegram):
    problems = []
    for number, message in enumerate(corpus()):
        chat = 660000 + number
        mark = len(telegram.calls)
        update = {"update_id": 770000 + number, "message": {
            "message_id": 1, "date": 1, "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "U"}, "text": message}}
        answer = requests.post(f"{stack.rasa_url}/webhooks/telegram/webhook", json=update, timeout=60,
                               headers={"X-Telegram-Bot-Api-Secret-Token": stack.telegram_secret})
        replied = any(str(c.body.get("chat_id")) == str(chat) and c.body.get("text") for c in telegram.calls[mark:])
        if answer.status_code != 200 or not replied:
            problems.append((message[:40], answer.status_code, replied))
    assert not problems, problems[:10]
    assert all(p.poll() is None for p in stack.processes), stack.logs()


def test_the_corpus_through_socketio_gets_a_reply_or_a_reasoned_refusal(stack):
    from tests.socketio_user import SocketIOUser

    messages = corpus()
    problems = []
    # A few messages per widget session, as users write (one session of 200+ turns only measures tracker size).
    for start in range(0, len(messages), 10):
        user = SocketIOUser(stack.rasa_url)
        try:
            for message in messages[start:start + 10]:
                replies, refusals = len(user.received), len(user.refusals)
                user.say(message)
                try:
                    outcome = user.wait_for_reply_or_refusal(replies, refusals)
                except TimeoutError:
                    problems.append(message[:40])
                    continue
                if outcome == "refusal" and not (user.refusals[-1]["text"]["zh"] and user.refusals[-1]["text"]["en"]):
                    problems.append(message[:40])
        finally:
            user.close()
    assert not problems, problems[:10]
    assert all(p.poll() is None for p in stack.processes), stack.logs()
