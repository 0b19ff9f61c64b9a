"""Dialogue-state gating: intents that are answers win only when the bot asked the question.

``give_rating`` ("5"), ``affirm`` ("对"), ``deny``, ``cancel_handoff`` and
``incident_subscribe`` make sense only as answers to something the bot said.
Classified on free text they attract short words and digits: "3号和4号两天了都没入账"
was answered "thanks, no ticket to rate". So after the NLU pipeline, an answer
intent the conversation did not ask for is replaced by the best other intent of
the ranking, or by the fallback when that one is unsure. Internal ``desk_*``
intents never come from a user's text.

Runs in the Rasa process (``rasa_server.patches`` wraps the processor's parse,
where the tracker is at hand); a pure function of the parse and the tracker.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional

from nlu.fallback import TRIAGE_RESCUE_KEY, choose_by_class
from nlu.triage import ANSWER_INTENTS, FALLBACK, OUT_OF_SCOPE, OUT_OF_SCOPE_THRESHOLD, intent_of
INTERNAL_PREFIX = "desk_"
# The FallbackClassifier's threshold in config.yml: below it the bot asks instead of guessing.
FALLBACK_THRESHOLD = 0.4
# Declining ("I can only help with the wallet") needs more certainty than answering: below
# OUT_OF_SCOPE_THRESHOLD (nlu/triage.py) an out-of-scope prediction becomes the clarifying
# question (both count as handled for off-topic messages).
# Words that say nothing about a topic: a message made only of them ("那个怎么搞", "咋整", "how do I
# do that", "?") is vague, not off-topic; the bot asks what it is about instead of declining, however
# sure the model is (real users' off-topic messages taught it to decline such short questions).
_FUNCTION_WORDS = re.compile(
    r"那个|这个|那些|这些|怎么办|怎么搞|怎么弄|怎么整|怎么回事|怎么|咋整|咋办|咋弄|咋|如何|啥|什么|哪个|哪里|"
    r"请问|问一下|问下|一下|帮我|帮忙|你好|您好|在吗|是不是|可以|能不能|要|想|我|你|他|它|这|那|"
    r"搞|弄|整|办|做|呢|啊|吗|吧|呀|了|的|嘛|哦|么|"
    r"\b(?:how|what|do|does|did|i|you|it|this|that|these|those|the|a|an|to|is|can|could|please|help|me|"
    r"with|so|now|then|just|ok|okay|hi|hello|hey|and|or|pls|plz)\b",
    re.IGNORECASE,
)
_NOT_CONTENT = re.compile(r"[\s\W_]+", re.UNICODE)


def is_vague(text: str) -> bool:
    """True when nothing but function words, punctuation and emoji remains: the topic is unknown."""
    return not _NOT_CONTENT.sub("", _FUNCTION_WORDS.sub(" ", text or ""))


HANDOFF_LOOPS = frozenset({"handoff_form", "transfer_details_form"})
RATING_QUESTIONS = frozenset({"utter_ask_csat"})


def _events(tracker: Any) -> List[Any]:
    return list(getattr(tracker, "events", None) or [])


def _bot_turn(tracker: Any) -> List[Any]:
    """What the bot said since the user's previous message."""
    said: List[Any] = []
    for event in reversed(_events(tracker)):
        kind = getattr(event, "type_name", None)
        if kind == "user":
            break
        if kind == "bot":
            said.append(event)
    return said


def _asked_yes_no(turn: Iterable[Any], intent: str) -> bool:
    """A yes/no question: buttons that offer this answer, or a question asked without buttons.

    Topic buttons (the clarifying question) offer "none of these" (``/deny``) but no yes.
    """
    for event in turn:
        data = getattr(event, "data", None) or {}
        buttons = data.get("buttons") or data.get("quick_replies") or []
        if buttons:
            if any(str(b.get("payload") or "").startswith("/" + intent) for b in buttons if isinstance(b, dict)):
                return True
            continue
        if (getattr(event, "text", None) or "").rstrip().endswith(("?", "？")):
            return True
    return False


def _asked_rating(turn: Iterable[Any]) -> bool:
    return any((getattr(e, "metadata", None) or {}).get("utter_action") in RATING_QUESTIONS for e in turn)


def _escalated(tracker: Any) -> bool:
    return any(getattr(e, "type_name", None) == "action" and getattr(e, "action_name", None) == "action_escalate"
               for e in _events(tracker))


def asked_for(intent: str, tracker: Optional[Any]) -> bool:
    """Whether the conversation's state makes ``intent`` a plausible answer now."""
    if intent.startswith(INTERNAL_PREFIX):
        return False
    if intent not in ANSWER_INTENTS:
        return True
    if tracker is None:
        return False
    turn = _bot_turn(tracker)
    if intent == "give_rating":
        return _asked_rating(turn)
    if intent in ("affirm", "deny"):
        return _asked_yes_no(turn, intent)
    if intent == "cancel_handoff":
        loop = getattr(tracker, "active_loop_name", None)
        return loop in HANDOFF_LOOPS or _escalated(tracker)
    if intent == "incident_subscribe":
        return bool(tracker.get_slot("incident")) if hasattr(tracker, "get_slot") else False
    return True


# An answer the bot asked for is taken from the ranking's first few even when unsure:
# "5" right after "rate us 1 to 5" is a rating, not a question to clarify.
PROMOTE_FROM_TOP = 3
# Only the rating: its question names the answers (1-5). A yes/no is too easy to read into an unclear message.
PROMOTABLE = frozenset({"give_rating"})


def _promote_asked_answer(parse: Dict[str, Any], tracker: Optional[Any]) -> Dict[str, Any]:
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK][:PROMOTE_FROM_TOP]
    asked = next((r for r in ranking if r.get("name") in PROMOTABLE and asked_for(r["name"], tracker)), None)
    if asked is None:
        return parse
    result = dict(parse)
    result["intent"] = {"name": asked["name"], "confidence": float(asked.get("confidence") or 0.0)}
    result["promoted"] = True
    return result


def gate(parse: Dict[str, Any], tracker: Optional[Any]) -> Dict[str, Any]:
    """``parse`` with an unasked answer intent replaced by the best asked one, or the fallback;
    an unsure parse right after the bot's question becomes the answer it asked for."""
    text = parse.get("text") or ""
    intent, confidence = intent_of(parse)
    if not intent or text.startswith("/"):
        return parse
    if intent == OUT_OF_SCOPE and (confidence < OUT_OF_SCOPE_THRESHOLD or is_vague(text)):
        # "那个怎么搞": a vague message is a question to clarify, not one to decline.
        return {**parse, "intent": {"name": FALLBACK, "confidence": 1.0 - confidence}, "unsure_out_of_scope": True}
    if intent == FALLBACK or (intent not in ANSWER_INTENTS and confidence < FALLBACK_THRESHOLD):
        return _promote_asked_answer(parse, tracker)
    if asked_for(intent, tracker):
        return parse
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    allowed = [r for r in ranking if r.get("name") and asked_for(r["name"], tracker)]
    result = dict(parse)
    result["gated"] = intent
    # An answer the bot did ask for, if it leads what is left; otherwise the triage class that holds
    # most of the rest, as nlu.fallback decides for any message; otherwise ask.
    asked_answer = bool(allowed) and allowed[0].get("name") in ANSWER_INTENTS \
        and float(allowed[0].get("confidence") or 0.0) >= FALLBACK_THRESHOLD
    chosen = None if asked_answer else choose_by_class(allowed)
    if asked_answer:
        result["intent"] = dict(allowed[0])
    elif chosen is not None:
        chosen.pop(TRIAGE_RESCUE_KEY, None)
        result["intent"] = chosen
    else:
        confidence = float(allowed[0].get("confidence") or 0.0) if allowed else 0.0
        result["intent"] = {"name": FALLBACK, "confidence": 1.0 - confidence}
    result["intent_ranking"] = [result["intent"]] + [r for r in allowed if r.get("name") != result["intent"]["name"]]
    return result
