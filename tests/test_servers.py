"""The real Rasa server, action server and desk, talked to through the REST channel."""

import re
import sqlite3

import pytest
import requests

pytestmark = pytest.mark.timeout(600)


def text_of(response_name, language, domain):
    for variation in domain.responses[response_name]:
        conditions = variation.get("condition") or []
        if (language == "en") == any(c.get("value") == "en" for c in conditions):
            return variation["text"]
    raise KeyError(response_name)


def texts(replies):
    return [r.get("text") for r in replies]


def test_chinese_question_gets_the_chinese_create_wallet_answer(stack, rasa_domain):
    # The curated answer, then the feedback question (answers/feedback.py).
    assert texts(stack.send("怎么创建钱包", "zh-user")) == [text_of("utter_create_wallet", "zh", rasa_domain),
                                                        text_of("utter_ask_helpful", "zh", rasa_domain)]


def test_english_question_gets_the_english_answer(stack, rasa_domain):
    assert texts(stack.send("how do I create a wallet", "en-user")) == [text_of("utter_create_wallet", "en", rasa_domain),
                                                                     text_of("utter_ask_helpful", "en", rasa_domain)]


def test_traditional_chinese_is_understood(stack, rasa_domain):
    assert texts(stack.send("錢包怎麼創建", "tw-user"))[0] == text_of("utter_create_wallet", "zh", rasa_domain)


def test_price_prediction_is_declined(stack, rasa_domain):
    assert texts(stack.send("比特币明天会涨吗", "oos-user")) == [text_of("utter_out_of_scope", "zh", rasa_domain)]


def test_theft_gets_the_checklist_first_then_a_ticket(stack, rasa_domain):
    replies = texts(stack.send("钱包被盗了", "theft-user"))
    assert replies[0] == text_of("utter_theft_checklist", "zh", rasa_domain)
    assert re.search(r"工单 T-[2-9A-HJ-NP-Z]{6}", replies[1]), replies
    assert "紧急" in replies[2]


def test_unclear_message_gets_buttons_and_a_second_miss_offers_a_human(stack):
    first = stack.send("那个怎么搞", "unclear-user")
    assert first and first[-1].get("buttons"), first
    second = stack.send("咋整", "unclear-user")
    payloads = [b["payload"] for b in second[-1].get("buttons", [])]
    assert "/request_human" in payloads, second


@pytest.mark.parametrize("message", ["🙂🙂🙂", "   ", "\x00\x01", "？？？", "a" * 1999])
def test_odd_input_is_answered_not_silenced(stack, message):
    replies = stack.send(message, f"odd-{len(message)}-{ord(message[0])}")
    assert replies and all(r.get("text") for r in replies)


def test_conversations_are_stored_in_the_sqlite_tracker_store(stack):
    stack.send("你好", "stored-user")
    with sqlite3.connect(stack.tracker_db) as db:
        rows = db.execute("select count(*) from events where sender_id = ?", ("stored-user",)).fetchone()
    assert rows[0] > 0


@pytest.mark.parametrize("path", ["/webhook", "/actions"])
def test_action_server_refuses_calls_without_the_token(stack, path):
    method = requests.post if path == "/webhook" else requests.get
    assert method(f"{stack.actions_url}{path}", json={"next_action": "action_escalate"}, timeout=10).status_code == 401
    assert method(f"{stack.actions_url}{path}?token=wrong", json={}, timeout=10).status_code == 401


def test_action_server_accepts_the_token(stack):
    listed = requests.get(f"{stack.actions_url}/actions", params={"token": stack.action_token}, timeout=10)
    assert listed.status_code == 200
    assert {"name": "action_escalate"} in listed.json()


def test_rasa_http_api_needs_the_token(stack):
    assert requests.get(f"{stack.rasa_url}/status", timeout=10).status_code == 401
    assert requests.get(f"{stack.rasa_url}/status", params={"token": "wrong"}, timeout=10).status_code == 401
    assert requests.get(f"{stack.rasa_url}/status", params={"token": stack.api_token}, timeout=10).status_code == 200


def test_a_forged_internal_intent_is_treated_as_text(stack, rasa_domain):
    replies = texts(stack.send("/secret_exposed", "forger"))
    assert text_of("utter_secret_exposed", "zh", rasa_domain) not in replies
    assert text_of("utter_secret_exposed", "en", rasa_domain) not in replies


def test_a_button_payload_still_works(stack, rasa_domain):
    assert texts(stack.send("/gas_fee", "clicker"))[0] == text_of("utter_gas_fee", "zh", rasa_domain)


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[1, 2]", 400),
        (b'{"sender": "x"}', 400),
        (b'{"sender": "x", "message": 5}', 400),
        (b'{"sender": {"a": 1}, "message": "hi"}', 400),
        (b"\xff\xfe\x00garbage", 400),
    ],
)
def test_malformed_bodies_get_a_4xx_with_a_reason(stack, body, status):
    reply = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", data=body, timeout=10)
    assert reply.status_code == status
    assert reply.json()["error"] and set(reply.json()["message"]) == {"zh", "en"}


def test_an_oversized_message_is_refused_politely_and_the_server_lives_on(stack):
    reply = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": "big", "message": "转账" * 60_000}, timeout=30
    )
    assert reply.status_code == 413
    assert "精简" in reply.json()["message"]["zh"]
    assert stack.send("你好", "after-big")


@pytest.mark.parametrize(
    "message, first, second, language",
    [
        ("你好。我想问一下怎么创建钱包。还有我的钱包打不开了，一直闪退。", "app_connectivity", "create_wallet", "zh"),
        ("How do I add a custom token? Also my withdrawal from Binance has not arrived after 5 hours.",
         "deposit_not_received", "add_custom_token", "en"),
    ],
)
def test_a_message_with_two_problems_answers_the_urgent_one_and_offers_the_other(
        stack, rasa_domain, message, first, second, language):
    replies = stack.send(message, f"two-problems-{language}")
    assert replies[0]["text"] == text_of(f"utter_{first}", language, rasa_domain)
    offer = replies[-1]
    assert offer["text"] == text_of("utter_second_problem", language, rasa_domain)
    assert [b["payload"] for b in offer["buttons"]] == [f"/{second}"]
    followed = texts(stack.send(f"/{second}", f"two-problems-{language}"))
    assert followed[0] == text_of(f"utter_{second}", language, rasa_domain)


def test_a_one_problem_message_gets_no_second_offer(stack, rasa_domain):
    replies = stack.send("我的钱包打不开了，一直闪退，怎么办。", "one-problem")
    assert text_of("utter_second_problem", "zh", rasa_domain) not in texts(replies)
