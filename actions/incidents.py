"""Incident mode on the bot's side (SPEC §4): subscriptions and delivered updates.

The FAQ answer with the incident notice lives in ``answers.faq`` (the gateway runs it in
the Rasa process); these two actions run in the action server.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from answers.desk_action import DeskAction
from answers.faq import INCIDENT_SLOT, ActionAnswerFaq, board, incident_fields  # noqa: F401 - ActionAnswerFaq registers with rasa-sdk here
from answers.language import DomainDict, tracker_language
from deskapi.client import DeskUnavailable

logger = logging.getLogger(__name__)


class ActionIncidentSubscribe(DeskAction):
    """"Notify me when fixed": a durable subscription in the desk."""

    def name(self) -> Text:
        return "action_incident_subscribe"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        desk = self.desk
        if desk is None:
            dispatcher.utter_message(response="utter_incident_none")
            return []
        incident_id = tracker.get_slot(INCIDENT_SLOT)
        if not incident_id:
            active = await board.active(desk)
            if len(active) != 1:  # none, or several and we cannot tell which one the user means
                dispatcher.utter_message(response="utter_incident_none")
                return []
            incident_id = active[0]["id"]
        try:
            await desk.incident_contact(incident_id, {"conversation_id": tracker.sender_id, "subscribe": True,
                                                      "channel": tracker.get_latest_input_channel() or "unknown",
                                                      "language": tracker_language(tracker)})
        except DeskUnavailable as error:
            if error.status in (404, 409):
                dispatcher.utter_message(response="utter_incident_already_resolved")
                return [SlotSet(INCIDENT_SLOT, None)]
            logger.error("subscription of %s to %s failed: %s", tracker.sender_id, incident_id, error)
            dispatcher.utter_message(response="utter_incident_subscribe_failed")
            return []
        dispatcher.utter_message(response="utter_incident_subscribed")
        return [SlotSet(INCIDENT_SLOT, incident_id)]


class ActionDeliverIncidentUpdates(DeskAction):
    """Triggered by the desk (internal intent): say the pending incident updates, then acknowledge them."""

    def name(self) -> Text:
        return "action_deliver_incident_updates"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        desk = self.desk
        if desk is None:
            return []
        try:
            notices = await desk.incident_notices(tracker.sender_id)
        except DeskUnavailable as error:
            logger.warning("incident notices of %s unavailable (the desk retries): %s", tracker.sender_id, error)
            return []
        language = tracker_language(tracker)
        for notice in notices:
            fields = incident_fields(notice, domain, language)
            resolved = notice.get("status") == "resolved"
            dispatcher.utter_message(response="utter_incident_resolved" if resolved else "utter_incident_update", **fields)
        if notices:
            try:
                await desk.acknowledge_incident_notices(tracker.sender_id, [n["id"] for n in notices])
            except DeskUnavailable as error:
                logger.warning("incident notices of %s not acknowledged (may repeat): %s", tracker.sender_id, error)
        return []
