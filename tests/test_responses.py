"""Every curated text: both languages, no request for secrets, only allowlisted links."""

import re
from urllib.parse import urlparse

import pytest
from rasa.shared.core.constants import DEFAULT_INTENTS
from rasa.shared.core.domain import Domain

from actions.clarify import NOT_TOPICS
from settings import get_settings
from tests.conftest import PROJECT_ROOT

CJK = re.compile(r"[\u4e00-\u9fff]")
SECRET_ZH = r"(助记词|私钥|密码|keystore)"
SECRET_EN = r"(seed phrase|recovery phrase|mnemonic|private key|password|keystore)"
# A request that the user hand a secret over to us (the bot, support, an agent).
ASKS_FOR_SECRET = re.compile(
    rf"{SECRET_ZH}.{{0,6}}(发给|发送给|提供给|告诉|私信|交给|发过来|发来)(我|我们|客服|机器人|工作人员)?"
    rf"|(提供|发送|发来|回复|告诉我们|告诉我)(一下)?(你的)?{SECRET_ZH}"
    rf"|\b(send|give|share|tell|provide|paste|dm)\b( (us|me|support|an agent))?( with)? (your |the )?{SECRET_EN}"
    rf"|{SECRET_EN}.{{0,20}}\b(to|with) (us|me|support|an agent|the bot)\b",
    re.I,
)
NEGATION = re.compile(
    r"不要|切勿|绝不|不会|永远不|从不|别|任何人|谁都不|never|don't|do not|won't|will not|no one|nobody|anyone",
    re.I,
)
DOMAIN_LIKE = re.compile(r"(?:https?://)?((?:[a-z0-9-]+\.)+(?:com|pro|io|org|net|app|xyz|cn|me|co|info|finance|exchange))\b", re.I)
SENTENCE_END = re.compile(r"[。！？!?\n]|(?<=[a-z])\.\s")


RESPONSES = Domain.load(str(PROJECT_ROOT / "domain")).responses


def _all_texts():
    for name, variations in RESPONSES.items():
        for variation in variations:
            yield name, variation


def _language(variation):
    for condition in variation.get("condition") or []:
        if condition.get("name") == "language":
            return condition["value"]
    return "zh"


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_response_exists_in_simplified_chinese_and_english(name):
    by_language = {}
    for variation in RESPONSES[name]:
        by_language.setdefault(_language(variation), []).append(variation["text"])
    assert set(by_language) == {"zh", "en"}, f"{name} must have a zh default and an en variation"
    assert all(CJK.search(t) for t in by_language["zh"]), f"{name}: zh text has no Chinese"
    assert not any(CJK.search(t) for t in by_language["en"]), f"{name}: en text contains Chinese"


@pytest.mark.parametrize("name, variation", list(_all_texts()), ids=lambda v: v if isinstance(v, str) else "")
def test_no_response_asks_for_a_secret(name, variation):
    for sentence in SENTENCE_END.split(variation["text"]):
        if ASKS_FOR_SECRET.search(sentence):
            assert NEGATION.search(sentence), f"{name} seems to ask for a secret: {sentence!r}"


@pytest.mark.parametrize("name, variation", list(_all_texts()), ids=lambda v: v if isinstance(v, str) else "")
def test_links_only_to_allowlisted_domains(name, variation):
    settings = get_settings()
    for match in DOMAIN_LIKE.finditer(variation["text"]):
        host = urlparse("//" + match.group(0).split("://")[-1]).hostname
        assert settings.is_allowed_domain(host), f"{name} names {host}, which is not in settings.yml"


def test_the_secret_check_would_catch_a_bad_answer():
    for bad in ("为了帮你核查，请把助记词发给我们。", "请提供你的私钥", "Please send us your seed phrase.",
                "Share your private key with support to verify."):
        assert ASKS_FOR_SECRET.search(bad) and not NEGATION.search(bad), bad
    good = "任何人向你索要助记词都是骗子，不要把助记词发给客服。"
    assert ASKS_FOR_SECRET.search(good) and NEGATION.search(good)


def test_every_faq_intent_has_its_answer_and_a_topic_label(rasa_domain):
    answered_by_rule = {"greet", "goodbye", "thanks", "affirm", "deny", "bot_challenge", "out_of_scope"}
    for intent in rasa_domain.intents:
        if intent in answered_by_rule or intent in DEFAULT_INTENTS or intent in NOT_TOPICS:
            continue  # handled by actions, never offered as a topic button
        if intent == "secret_exposed":  # forced, never offered as a topic
            assert "utter_secret_exposed" in RESPONSES
            continue
        label = f"utter_topic_{intent}"
        assert label in RESPONSES, f"{intent} has no button label {label}"
        if intent != "suspected_theft":
            assert f"utter_{intent}" in RESPONSES, f"{intent} has no curated answer"
    assert "utter_theft_checklist" in RESPONSES
