"""The handoff loop's relay: every message of an open handoff goes to the ticket (SPEC §3).

``handoff_form`` is a loop with one slot that takes every user message
(``from_text``); its validation action relays the text to the ticket and
acknowledges it, so the bot stays quiet except for that. Control intents are
left out of the slot mapping, which makes the loop step aside for them (the
rest of the handoff, cancel, agent replies and the close, is ``actions/handoff.py``).

Imported by the action server (``actions.handoff``) and run in the Rasa process by the
action gateway (``rasa_server.action_gateway``): in an outage flood every escalation
runs the loop's validation and its "question" right after ``action_escalate``, and two
more calls to the action server, each with the whole tracker, were a third of the
escalation turn's cost. A relayed message carries an idempotency key, so a turn run
twice (here, then by the action server after a local failure) relays it once.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from answers.desk_action import DeskAction
from answers.escalation import RELAY_KEY, continues_seed, idempotency_key
from answers.language import DomainDict
from deskapi.client import DeskUnavailable
from deskapi.escalations import FUNDS_IN_TRANSIT_INTENTS, URGENT_INTENTS, decide_priority

logger = logging.getLogger(__name__)

HANDOFF_SLOT = "handoff_message"


def leave_handoff() -> List[Dict[Text, Any]]:
    """The events that end the handoff loop and give the conversation back to the bot."""
    return [SlotSet(HANDOFF_SLOT, None), SlotSet("requested_slot", None), ActiveLoop(None)]


def _escalated_since_last_user_message(tracker: Tracker) -> bool:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") == "action_escalate":
            return True
    return False


class ValidateHandoffForm(DeskAction):
    """Relay each message of the handoff to the ticket and acknowledge it."""

    def name(self) -> Text:
        return "validate_handoff_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        message = tracker.latest_message or {}
        if _escalated_since_last_user_message(tracker):
            # The form is starting: this message already went to the desk with the escalation.
            return [SlotSet(HANDOFF_SLOT, None)]
        if tracker.get_slot(HANDOFF_SLOT) is None:
            # A control intent (not mapped to the slot): returning nothing lets the
            # form reject the turn, so the rules for that intent take over.
            return []
        intent = (message.get("intent") or {}).get("name")
        text = message.get("text") or ""
        priority = decide_priority([intent]).value if intent in URGENT_INTENTS | FUNDS_IN_TRANSIT_INTENTS else None
        desk = self.desk
        if desk is None:
            dispatcher.utter_message(response="utter_handoff_ended")
            return leave_handoff()
        try:
            relayed = await desk.append_message(tracker.sender_id, text, intent, priority,
                                                idempotency_key(tracker, RELAY_KEY), continues_seed(message))
        except DeskUnavailable as error:
            logger.error("relay for %s failed: %s", tracker.sender_id, error)
            dispatcher.utter_message(response="utter_handoff_relay_failed")
            return [SlotSet(HANDOFF_SLOT, None)]
        if relayed is None:  # closed in the desk while we were not told
            dispatcher.utter_message(response="utter_handoff_ended")
            return leave_handoff()
        if intent == "secret_exposed":
            dispatcher.utter_message(response="utter_secret_exposed")
        elif intent == "suspected_theft":
            dispatcher.utter_message(response="utter_theft_checklist")
        dispatcher.utter_message(response="utter_handoff_ack", ticket_id=relayed["ticket"]["id"])
        return [SlotSet(HANDOFF_SLOT, None)]


class ActionAskHandoffMessage(Action):
    """The loop's "question": nothing to ask, the user just writes to the agent."""

    def name(self) -> Text:
        return "action_ask_handoff_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        return []
