"""The second problem of a long message, offered as a button after the answer to the first.

Real users put several problems in one message ("转账没到账。还有，助记词怎么备份？").
Clause triage (``nlu.triage``) answers the most urgent one and keeps the runner-up
under ``triage.secondary`` of the parse; this module turns that into one button whose
payload asks for the runner-up directly, so the user gets both answers without
retyping. Only topics the bot answers itself are offered (they have a ``utter_topic_``
label); theft and exposed secrets are always chosen first, never left as the second.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from answers.language import DomainDict, response_text, tracker_language


def second_problem(tracker: Tracker, domain: DomainDict) -> Optional[str]:
    """The runner-up intent clause triage found in the latest message, if the bot can answer it."""
    message = tracker.latest_message or {}
    triage = message.get("triage") or {}
    secondary = triage.get("secondary")
    chosen = (message.get("intent") or {}).get("name")
    if not secondary or secondary == chosen:
        return None
    if f"utter_topic_{secondary}" not in (domain.get("responses") or {}):
        return None
    return str(secondary)


def offer_second_problem(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> bool:
    """After the answer: "you also mentioned X" with X as a button; False (nothing said) for a one-problem message."""
    intent = second_problem(tracker, domain)
    if intent is None:
        return False
    language = tracker_language(tracker)
    buttons: List[Dict[str, Any]] = [
        {"title": response_text(domain, f"utter_topic_{intent}", language), "payload": f"/{intent}"}]
    dispatcher.utter_message(response="utter_second_problem", buttons=buttons)
    return True
