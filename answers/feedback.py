"""Answer feedback: "有帮助吗？" with 👍 / 👎 after a curated FAQ answer.

Asked at most once per topic in a conversation (the ``feedback_asked`` slot lists the topics),
never in a conversation that got the theft checklist (a victim is not asked to rate a safety
procedure), and not while an incident notice stands in for the answer. The buttons are quick
replies in the widget and an inline keyboard on Telegram (the channels render buttons so). The
answers are rules (``data/rules/faq.yml``); the desk reads a 👎 from the tracker store into its
NLU inbox and report.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from answers.language import DomainDict, response_text, tracker_language

ASKED_SLOT = "feedback_asked"
THEFT_CHECKLIST = "utter_theft_checklist"


def theft_checklist_given(tracker: Tracker) -> bool:
    return any(e.get("event") == "action" and e.get("name") == THEFT_CHECKLIST for e in tracker.events)


def should_ask(tracker: Tracker, intent: str) -> bool:
    asked = tracker.get_slot(ASKED_SLOT) or []
    return intent not in asked and not theft_checklist_given(tracker)


def ask_feedback(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                 intent: str) -> List[Dict[Text, Any]]:
    """Ask whether the answer to ``intent`` helped, unless this conversation must not be asked; the slot events."""
    if not should_ask(tracker, intent):
        return []
    language = tracker_language(tracker)
    buttons = [{"title": response_text(domain, "utter_button_helpful", language), "payload": "/answer_helpful"},
               {"title": response_text(domain, "utter_button_not_helpful", language), "payload": "/answer_not_helpful"}]
    dispatcher.utter_message(response="utter_ask_helpful", buttons=buttons)
    return [SlotSet(ASKED_SLOT, [*(tracker.get_slot(ASKED_SLOT) or []), intent])]
