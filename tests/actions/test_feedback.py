"""Answer feedback after curated answers: asked once per topic, with 👍/👎 buttons, never after the theft checklist."""

import asyncio

from rasa_sdk import Tracker

from answers.faq import ActionAnswerFaq, board
from answers.feedback import ask_feedback


class NoIncidents:
    async def active_incidents(self):
        return []


def run_faq(dispatcher, tracker, domain):
    board.forget()
    return asyncio.run(ActionAnswerFaq(NoIncidents()).run(dispatcher, tracker, domain))


def test_the_question_follows_the_answer_with_thumbs_buttons(make_tracker, dispatcher, domain):
    events = run_faq(dispatcher, make_tracker(("怎么创建钱包", "create_wallet")), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_create_wallet", "utter_ask_helpful"]
    assert dispatcher.messages[1]["buttons"] == [{"title": "👍 有帮助", "payload": "/answer_helpful"},
                                                 {"title": "👎 没帮助", "payload": "/answer_not_helpful"}]
    assert events[0]["name"] == "feedback_asked" and events[0]["value"] == ["create_wallet"]


def test_asked_at_most_once_per_topic(make_tracker, dispatcher, domain):
    tracker = make_tracker(("怎么创建钱包", "create_wallet"), slots={"feedback_asked": ["create_wallet"]})
    assert run_faq(dispatcher, tracker, domain) == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_create_wallet"]
    other = make_tracker(("手续费多少", "gas_fee"), slots={"feedback_asked": ["create_wallet"]})
    assert ask_feedback(dispatcher, other, domain, "gas_fee")[0]["value"] == ["create_wallet", "gas_fee"]


def test_never_after_the_theft_checklist(dispatcher, domain):
    tracker = Tracker.from_dict({
        "sender_id": "victim", "slots": {}, "latest_message": {"text": "怎么创建钱包", "intent": {"name": "create_wallet"}},
        "events": [{"event": "user", "text": "钱被盗了"}, {"event": "action", "name": "utter_theft_checklist"},
                   {"event": "user", "text": "怎么创建钱包"}],
        "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"})
    assert ask_feedback(dispatcher, tracker, domain, "create_wallet") == [] and dispatcher.messages == []


def test_english_buttons(make_tracker, dispatcher, domain):
    ask_feedback(dispatcher, make_tracker(("how do I create a wallet", "create_wallet")), domain, "create_wallet")
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert titles == ["👍 Yes", "👎 No"]
