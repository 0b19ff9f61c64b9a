import asyncio

import pytest
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_server.nlg import BilingualNLG


@pytest.fixture(scope="module")
def nlg(rasa_domain):
    return BilingualNLG(domain=rasa_domain)


def tracker_with(*texts):
    tracker = DialogueStateTracker("u1", slots=[])
    for text in texts:
        tracker.update(UserUttered(text, intent={"name": "create_wallet", "confidence": 1.0}))
        tracker.update(ActionExecuted("action_listen"))
    return tracker


def generate(nlg, response, tracker):
    return asyncio.run(nlg.generate(response, tracker, "rest"))["text"]


def test_chinese_question_gets_the_chinese_answer(nlg, rasa_domain):
    text = generate(nlg, "utter_create_wallet", tracker_with("怎么创建钱包"))
    assert "助记词" in text


def test_english_question_gets_the_english_answer(nlg):
    text = generate(nlg, "utter_create_wallet", tracker_with("怎么创建钱包", "how do I create a wallet"))
    assert "seed phrase" in text.lower() or "recovery phrase" in text.lower()
    assert "助记词" not in text


def test_a_button_click_keeps_the_language(nlg):
    text = generate(nlg, "utter_greet", tracker_with("hello there", "/greet"))
    assert text.startswith("Hi")


def test_no_user_message_yet_uses_the_default_language(nlg):
    assert generate(nlg, "utter_greet", DialogueStateTracker("u2", slots=[])).startswith("你好")
