import asyncio

import pytest

from actions.clarify import ActionClarify, is_repeated_fallback, suggested_intents

RANKING = [
    {"name": "nlu_fallback", "confidence": 0.55},
    {"name": "greet", "confidence": 0.30},
    {"name": "stuck_transaction", "confidence": 0.25},
    {"name": "gas_fee", "confidence": 0.20},
    {"name": "out_of_scope", "confidence": 0.10},
    {"name": "failed_transaction", "confidence": 0.08},
    {"name": "deposit_not_received", "confidence": 0.07},
    {"name": "cross_chain", "confidence": 0.01},
]


def test_suggestions_are_the_top_three_topics_without_chitchat(domain):
    assert suggested_intents(RANKING, domain) == ["stuck_transaction", "gas_fee", "failed_transaction"]


def test_noise_is_not_suggested(domain):
    ranking = [{"name": "gas_fee", "confidence": 0.5}, {"name": "cross_chain", "confidence": 0.01}]
    assert suggested_intents(ranking, domain) == ["gas_fee"]


def _run(tracker, dispatcher, domain):
    return asyncio.run(ActionClarify().run(dispatcher, tracker, domain))


def test_first_miss_asks_with_topic_buttons_in_chinese(make_tracker, dispatcher, domain):
    tracker = make_tracker(("转不出去怎么回事啊", "nlu_fallback", RANKING))
    events = _run(tracker, dispatcher, domain)
    assert events == []
    [message] = dispatcher.messages
    assert message["response"] == "utter_clarify"
    assert [b["payload"] for b in message["buttons"]] == [
        "/stuck_transaction", "/gas_fee", "/failed_transaction", "/deny",
    ]
    assert [b["title"] for b in message["buttons"]] == ["转账一直未确认", "手续费/能量/带宽", "交易失败扣手续费", "都不是"]


def test_second_miss_in_a_row_offers_a_human(make_tracker, dispatcher, domain):
    tracker = make_tracker(("it wont go thru", "nlu_fallback", RANKING), ("still stuck??", "nlu_fallback", RANKING))
    assert is_repeated_fallback(tracker)
    _run(tracker, dispatcher, domain)
    [message] = dispatcher.messages
    assert message["response"] == "utter_clarify_offer_human"
    payloads = [b["payload"] for b in message["buttons"]]
    assert "/request_human" in payloads
    assert message["buttons"][payloads.index("/request_human")]["title"] == "Talk to a human"


def test_a_miss_after_an_understood_message_is_a_first_miss(make_tracker, dispatcher, domain):
    tracker = make_tracker(("转账卡住了", "stuck_transaction"), ("嗯嗯那个呢", "nlu_fallback", RANKING))
    assert not is_repeated_fallback(tracker)
    _run(tracker, dispatcher, domain)
    assert dispatcher.messages[0]["response"] == "utter_clarify"
    assert "/request_human" not in [b["payload"] for b in dispatcher.messages[0]["buttons"]]


def test_without_any_ranking_the_user_can_still_answer(make_tracker, dispatcher, domain):
    tracker = make_tracker(("???", "nlu_fallback", []))
    _run(tracker, dispatcher, domain)
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/deny"]


def test_a_vague_message_still_gets_the_best_topic_guesses(domain):
    ranking = [{"name": "out_of_scope", "confidence": 0.8}, {"name": "create_wallet", "confidence": 0.01},
               {"name": "greet", "confidence": 0.01}, {"name": "gas_fee", "confidence": 0.004}]
    assert suggested_intents(ranking, domain) == ["create_wallet", "gas_fee"]
