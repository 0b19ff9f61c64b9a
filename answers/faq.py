"""The curated FAQ answer, with incident mode first (SPEC §4): answer the outage flood before it reaches the queue.

Imported by the action server (``actions``) and run in the Rasa process by the action
gateway (``rasa_server.action_gateway``), so neither reaches into the other.

``action_answer_faq`` answers every FAQ intent. While the desk has an active
incident covering the question it gives the incident's notice first, with its
latest status and ETA and a "notify me when fixed" button, and tells the desk
who asked. A request for a person from someone who has seen the notice is
answered with the notice once more (a deflection, counted by the desk); asking
again opens a ticket linked to the incident. Theft and exposed secrets never
reach this path: they are not FAQ intents and always escalate as P1.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from answers.desk_action import DeskAction
from answers.feedback import ask_feedback
from deskapi.client import DeskClient, DeskUnavailable
from answers.language import DomainDict, local_time, response_text, tracker_language
from answers.second_problem import offer_second_problem
from answers.topics import FAQ_INTENTS, incident_covers

logger = logging.getLogger(__name__)

INCIDENT_SLOT = "incident"
DEFLECTED_SLOT = "incident_deflected"
SUBSCRIBE_PAYLOAD = "/incident_subscribe"
# Under a flood every message would otherwise ask the desk; a few seconds of
# staleness is invisible to users and keeps the desk out of the hot path.
CACHE_SECONDS = 2.0
STALE_LIMIT_SECONDS = 60.0


class IncidentBoard:
    """The desk's active incidents, fetched at most once per ``ttl`` seconds.

    When the list has expired, every answer that needs it waits for one shared
    refresh, so a notice is never more than ``ttl`` plus one desk call old
    (an incident just resolved must not be announced again). Answering from
    the expired list while refreshing in the background was tried: it removed
    a stall of one saturated Rasa process but announced a resolved incident for
    up to 10 s; with the worker process (rasa_server/workers.py) the shared
    refresh shows no stall (p99 0.9 s at 32 concurrent).
    """

    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._incidents: List[Dict[str, Any]] = []
        self._fetched_at = float("-inf")
        self._succeeded_at = float("-inf")
        self._refreshing: Optional["asyncio.Future[None]"] = None

    async def active(self, desk: DeskClient) -> List[Dict[str, Any]]:
        if time.monotonic() - self._fetched_at < self.ttl:
            return self._incidents
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._refresh(desk))
        await asyncio.shield(self._refreshing)
        return self._incidents

    async def _refresh(self, desk: DeskClient) -> None:
        try:
            self._incidents = await desk.active_incidents()
            self._succeeded_at = time.monotonic()
        except DeskUnavailable as error:
            # Keep a recent list (an outage notice matters most while things break); forget an old one.
            logger.warning("active incidents unavailable: %s", error)
            if time.monotonic() - self._succeeded_at > STALE_LIMIT_SECONDS:
                self._incidents = []
        except Exception:  # noqa: BLE001 - every waiting answer shares this refresh: never fail them all
            logger.exception("refreshing the active incidents failed")
        self._fetched_at = time.monotonic()

    def forget(self) -> None:
        self._fetched_at = float("-inf")
        self._refreshing = None


board = IncidentBoard()


def user_chain(tracker: Tracker) -> Optional[str]:
    """The chain the user named in this message, else earlier in the conversation."""
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "chain" and entity.get("value"):
            return str(entity["value"])
    chain = tracker.get_slot("chain")
    return str(chain) if chain and chain != "unknown" else None


def covering_incident(incidents: List[Dict[str, Any]], intent: Optional[str], chain: Optional[str]) -> Optional[Dict[str, Any]]:
    for incident in incidents:
        if incident_covers(incident.get("intents") or [], incident.get("chains") or [], intent, chain):
            return incident
    return None


def incident_fields(incident: Dict[str, Any], domain: DomainDict, language: str) -> Dict[str, str]:
    """The template variables of the incident responses, in the user's language."""
    message = incident.get("message_en") if language == "en" else incident.get("message_zh")
    eta = incident.get("eta")
    return {
        "incident_title": str(incident.get("title") or ""),
        "incident_message": str(message or ""),
        "incident_status": response_text(domain, f"utter_incident_status_{incident.get('status', 'investigating')}", language),
        "incident_eta": local_time(eta) if eta else response_text(domain, "utter_incident_eta_unknown", language),
    }


def subscribe_button(domain: DomainDict, language: str) -> List[Dict[str, str]]:
    return [{"title": response_text(domain, "utter_button_incident_subscribe", language), "payload": SUBSCRIBE_PAYLOAD}]


async def report_contact(desk: DeskClient, tracker: Tracker, incident_id: str, **flags: bool) -> None:
    """Tell the desk; counting must never cost the user their answer."""
    try:
        await desk.incident_contact(incident_id, {"conversation_id": tracker.sender_id,
                                                  "channel": tracker.get_latest_input_channel() or "unknown",
                                                  "language": tracker_language(tracker), **flags})
    except DeskUnavailable as error:
        logger.error("incident %s: contact of %s not recorded: %s", incident_id, tracker.sender_id, error)


async def shown_incident(desk: DeskClient, tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The still-active incident whose notice this conversation was shown, if any."""
    shown = tracker.get_slot(INCIDENT_SLOT)
    if not shown:
        return None
    return next((i for i in await board.active(desk) if i.get("id") == shown), None)


async def deflect(dispatcher: CollectingDispatcher, desk: DeskClient, tracker: Tracker, domain: DomainDict,
                  incident: Dict[str, Any]) -> List[Dict[Text, Any]]:
    """First request for a person during a known incident: the notice again, and how to insist."""
    language = tracker_language(tracker)
    dispatcher.utter_message(response="utter_incident_deflect", buttons=subscribe_button(domain, language),
                             **incident_fields(incident, domain, language))
    await report_contact(desk, tracker, incident["id"], deflected=True)
    return [SlotSet(DEFLECTED_SLOT, True)]


class ActionAnswerFaq(DeskAction):
    """The curated FAQ answer, or first the notice of an active incident that covers the question."""

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if intent not in FAQ_INTENTS:
            return [FollowupAction("action_clarify")]
        desk, chain = self.desk, user_chain(tracker)
        incident = covering_incident(await board.active(desk), intent, chain) if desk else None
        if incident is None:
            dispatcher.utter_message(response=f"utter_{intent}")
            if offer_second_problem(dispatcher, tracker, domain):
                # One set of buttons at a time: the user's other problem first; "有帮助吗？" comes
                # after its answer.
                return []
            return ask_feedback(dispatcher, tracker, domain, intent)
        language = tracker_language(tracker)
        dispatcher.utter_message(response="utter_incident_notice", buttons=subscribe_button(domain, language),
                                 **incident_fields(incident, domain, language))
        if incident.get("chains") and not chain:
            # The incident is about some chains and we do not know the user's: the usual answer too.
            dispatcher.utter_message(response="utter_incident_chains_note", incident_chains=", ".join(incident["chains"]))
            dispatcher.utter_message(response=f"utter_{intent}")
        await report_contact(desk, tracker, incident["id"])
        offer_second_problem(dispatcher, tracker, domain)
        return [SlotSet(INCIDENT_SLOT, incident["id"])]
