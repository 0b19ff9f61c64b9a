"""Answer intents win only when the bot asked for them (nlu/gating.py), in both directions."""

import pytest
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from nlu.gating import gate


def parse(text, *ranking):
    ranked = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    return {"text": text, "intent": dict(ranked[0]), "intent_ranking": ranked, "entities": []}


def tracker(*events):
    return DialogueStateTracker.from_events("u", [UserUttered("hi"), *events])


def test_a_digit_is_not_a_rating_when_nobody_asked():
    gated = gate(parse("3号和4号两天了都没入账", ("give_rating", 0.95), ("deposit_not_received", 0.04)), tracker())
    assert gated["intent"]["name"] == "nlu_fallback"  # nothing else is meant: ask, never "thanks for rating"
    # What the rating leaves is one transaction problem (nlu.fallback.choose_by_class): answer it.
    gated = gate(parse("3号和4号两天了都没入账", ("give_rating", 0.7), ("deposit_not_received", 0.25)), tracker())
    assert gated["intent"]["name"] == "deposit_not_received"
    gated = gate(parse("3号转的还没到", ("give_rating", 0.5), ("deposit_not_received", 0.45)), tracker())
    assert gated["intent"]["name"] == "deposit_not_received"
    assert gated["gated"] == "give_rating"


def test_a_rating_counts_right_after_the_bot_asked_for_it():
    asked = tracker(ActionExecuted("action_ticket_closed"),
                    BotUttered("请打分", metadata={"utter_action": "utter_ask_csat"}))
    assert gate(parse("5", ("give_rating", 0.9), ("thanks", 0.05)), asked)["intent"]["name"] == "give_rating"


def test_yes_and_no_need_a_question():
    assert gate(parse("对的", ("affirm", 0.9), ("thanks", 0.05)), tracker())["intent"]["name"] == "nlu_fallback"
    asked = tracker(BotUttered("这是交易哈希吗？", data={"buttons": [{"title": "是", "payload": "/affirm"}]}))
    assert gate(parse("对的", ("affirm", 0.9), ("thanks", 0.05)), asked)["intent"]["name"] == "affirm"


def test_cancelling_a_handoff_needs_one():
    assert gate(parse("取消", ("cancel_handoff", 0.8), ("deny", 0.1)), tracker())["intent"]["name"] == "nlu_fallback"
    in_handoff = tracker(ActiveLoop("handoff_form"))
    assert gate(parse("取消人工", ("cancel_handoff", 0.8)), in_handoff)["intent"]["name"] == "cancel_handoff"
    escalated = tracker(ActionExecuted("action_escalate"))
    assert gate(parse("取消人工", ("cancel_handoff", 0.8)), escalated)["intent"]["name"] == "cancel_handoff"


def test_subscribing_needs_an_incident_notice():
    assert gate(parse("通知我", ("incident_subscribe", 0.8)), tracker())["intent"]["name"] == "nlu_fallback"
    notified = tracker(SlotSet("incident", "INC-ABCDE"))
    assert gate(parse("通知我", ("incident_subscribe", 0.8)), notified)["intent"]["name"] == "incident_subscribe"


def test_internal_intents_never_come_from_text_and_buttons_pass():
    assert gate(parse("desk", ("desk_agent_reply", 0.9), ("greet", 0.6)), tracker())["intent"]["name"] == "greet"
    assert gate(parse("/give_rating", ("give_rating", 1.0)), tracker())["intent"]["name"] == "give_rating"
    assert gate(parse("怎么创建钱包", ("create_wallet", 0.9)), None)["intent"]["name"] == "create_wallet"


def test_an_unsure_digit_right_after_the_rating_question_is_the_rating():
    asked = tracker(ActionExecuted("action_ticket_closed"),
                    BotUttered("请打分", metadata={"utter_action": "utter_ask_csat"}))
    unsure = {"text": "5", "intent": {"name": "nlu_fallback", "confidence": 0.4},
              "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "give_rating", "confidence": 0.26},
                                 {"name": "thanks", "confidence": 0.2}], "entities": []}
    assert gate(unsure, asked)["intent"]["name"] == "give_rating"
    assert gate(unsure, tracker())["intent"]["name"] == "nlu_fallback"  # nobody asked: still a clarifying question


def test_topic_buttons_are_not_a_yes_no_question():
    clarify = tracker(BotUttered("你是想问下面哪一个？", data={"buttons": [
        {"title": "转账没到账", "payload": "/deposit_not_received"}, {"title": "都不是", "payload": "/deny"}]}))
    assert gate(parse("好的", ("affirm", 0.9), ("thanks", 0.05)), clarify)["intent"]["name"] == "nlu_fallback"
    assert gate(parse("都不是", ("deny", 0.9), ("thanks", 0.05)), clarify)["intent"]["name"] == "deny"
    plain_question = tracker(BotUttered("还有什么可以帮你？"))
    assert gate(parse("不用了", ("deny", 0.9)), plain_question)["intent"]["name"] == "deny"


def test_an_unsure_decline_becomes_a_clarifying_question():
    assert gate(parse("那个怎么搞", ("out_of_scope", 0.8), ("create_wallet", 0.1)), tracker())["intent"]["name"] == "nlu_fallback"
    assert gate(parse("比特币明天会涨吗", ("out_of_scope", 0.97)), tracker())["intent"]["name"] == "out_of_scope"


@pytest.mark.parametrize("text", ["那个怎么搞", "咋整", "这个怎么弄？", "how do I do that", "?", "那个 🙂"])
def test_a_vague_message_is_asked_about_even_when_the_model_would_decline_it(text):
    assert gate(parse(text, ("out_of_scope", 0.95)), tracker())["intent"]["name"] == "nlu_fallback"


@pytest.mark.parametrize("text", ["今天天气怎么样", "比特币明天会涨吗", "what is the price of bitcoin", "你们公司在招聘吗"])
def test_an_off_topic_message_with_a_topic_is_still_declined(text):
    assert gate(parse(text, ("out_of_scope", 0.95)), tracker())["intent"]["name"] == "out_of_scope"
