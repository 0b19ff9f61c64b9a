"""Language of the reply and localized texts for actions that build their own messages.

Responses sent with ``dispatcher.utter_message(response=...)`` are localized by
Rasa's NLG (rasa_server.nlg.BilingualNLG). Button titles are not: they are
plain strings in the action's message, so actions look the label up here, from
the same curated responses in ``domain/``, with the same language rule.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker

from answers.curated import variation_language
from settings import get_settings
from safety.text import reply_language

DomainDict = Dict[Text, Any]


def _user_texts_newest_first(tracker: Tracker) -> Iterator[str]:
    for event in reversed(tracker.events):
        if event.get("event") == "user" and event.get("text"):
            yield event["text"]


def tracker_language(tracker: Tracker) -> str:
    """``"zh"`` or ``"en"``, decided exactly as BilingualNLG decides it."""
    return reply_language(_user_texts_newest_first(tracker), get_settings().default_language)


def response_text(domain: DomainDict, response: Text, language: str) -> str:
    """The text of ``response`` in ``language``; the unconditioned (Chinese) one otherwise."""
    variations: List[Dict[Text, Any]] = domain.get("responses", {}).get(response) or []
    if not variations:
        raise KeyError(f"response {response!r} is not in the domain")
    for variation in variations:
        if variation_language(variation) == language:
            return variation["text"]
    for variation in variations:
        if variation_language(variation) is None:
            return variation["text"]
    return variations[0]["text"]


def local_time(iso_utc: str) -> str:
    """``2026-11-23T00:00:00Z`` as the desk's local time, e.g. ``11-23 08:00 (Asia/Shanghai)``."""
    zone_name = get_settings().desk.timezone
    moment = datetime.fromisoformat(iso_utc.rstrip("Z")).replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone_name))
    return f"{moment:%m-%d %H:%M} ({zone_name})"
