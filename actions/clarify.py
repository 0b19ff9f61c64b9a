"""``action_clarify``: what the bot does when it is not sure what the user means.

A wrong confident answer is worse than a question (SPEC §1). The first miss
offers the 2-3 likeliest topics as buttons; a second miss in a row also offers
a human agent, so nobody is stuck in a loop with the bot.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from answers.history import user_intents
from answers.language import DomainDict, response_text, tracker_language
from safety.payloads import FEEDBACK_INTENTS, INTERNAL_INTENTS

FALLBACK_INTENT = "nlu_fallback"
MAX_SUGGESTIONS = 3
# Below this confidence a suggestion is noise rather than a guess.
MIN_SUGGESTION_CONFIDENCE = 0.05
# Intents a user would never want as a suggested topic.
NOT_TOPICS = frozenset(
    {
        FALLBACK_INTENT,
        "greet",
        "goodbye",
        "thanks",
        "affirm",
        "deny",
        "bot_challenge",
        "out_of_scope",
        "request_human",
        "ticket_status",
        "secret_exposed",
        "cancel_handoff",
        "give_rating",
        "incident_subscribe",
    }
) | INTERNAL_INTENTS | FEEDBACK_INTENTS


def suggested_intents(intent_ranking: List[Dict[Text, Any]], domain: DomainDict) -> List[str]:
    """The likeliest topic intents, best first, that have a button label.

    A topic far below the others is noise, unless nothing is above that line: a vague message
    ("那个怎么搞") that the classifier leaned to declining still gets its best topic guesses.
    """
    responses = domain.get("responses", {})
    topics = [entry for entry in intent_ranking
              if entry.get("name") not in NOT_TOPICS and f"utter_topic_{entry.get('name')}" in responses]
    likely = [entry for entry in topics if (entry.get("confidence") or 0.0) >= MIN_SUGGESTION_CONFIDENCE]
    return [entry["name"] for entry in (likely or topics)[:MAX_SUGGESTIONS]]


def is_repeated_fallback(tracker: Tracker) -> bool:
    """True when the user message before this one was not understood either."""
    return user_intents(tracker)[-2:] == [FALLBACK_INTENT, FALLBACK_INTENT]


class ActionClarify(Action):
    """Ask which topic the user means, with buttons; offer a human on the second miss."""

    def name(self) -> Text:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        language = tracker_language(tracker)
        ranking = tracker.latest_message.get("intent_ranking") or []
        buttons = [
            {"title": response_text(domain, f"utter_topic_{intent}", language), "payload": f"/{intent}"}
            for intent in suggested_intents(ranking, domain)
        ]
        if is_repeated_fallback(tracker):
            buttons.append(
                {"title": response_text(domain, "utter_button_request_human", language), "payload": "/request_human"}
            )
            prompt = "utter_clarify_offer_human"
        else:
            prompt = "utter_clarify"
        buttons.append({"title": response_text(domain, "utter_button_none_of_these", language), "payload": "/deny"})
        dispatcher.utter_message(response=prompt, buttons=buttons)
        return []
