"""Escalation to the agent desk: ``action_escalate`` and ``action_ticket_status``.

Deciding the priority (SPEC §2) lives here and is final; the desk merges a
re-escalation into the open ticket and only ever raises its priority. The user
is told the ticket id, their place in the queue and an ETA the desk computed
from the queue and the agents on shift, or, with nobody on shift, when the next
shift starts. Without a desk, or when it cannot be reached, the bot says so; it
never invents a ticket id.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from answers.desk_action import DeskAction
from answers.escalation import (DETAILS_ASKED, DETAILS_FORM, HANDOFF_FORM, SKIPPED, TRANSFER_SLOTS,
                                build_request)
from deskapi.client import DeskUnavailable
from deskapi.escalations import (FUNDS_IN_TRANSIT_INTENTS, URGENT_INTENTS, EscalationRequest, Priority,
                                 decide_priority, utc_now_iso)
from answers.faq import DEFLECTED_SLOT, deflect, shown_incident
from deskapi.outbox import get_outbox
from answers.language import DomainDict, local_time, tracker_language
from settings import get_settings

logger = logging.getLogger(__name__)

def tell_queue_position(dispatcher: CollectingDispatcher, status: Dict[str, Any]) -> None:
    """Place in the queue and an honest ETA, from the desk's answer."""
    ticket = status["ticket"]
    if ticket["status"] == "claimed":
        dispatcher.utter_message(response="utter_ticket_eta_claimed", ticket_id=ticket["id"])
    elif status.get("eta_minutes") is not None:
        dispatcher.utter_message(response="utter_ticket_eta", position=status["queue_position"],
                                 eta=status["eta_minutes"], agents=status["agents_on_shift"])
    elif status.get("next_shift_start"):
        dispatcher.utter_message(response="utter_ticket_eta_no_agent", position=status["queue_position"],
                                 next_shift=local_time(status["next_shift_start"]))
    else:
        dispatcher.utter_message(response="utter_ticket_eta_no_shift", position=status["queue_position"])


class ActionEscalate(DeskAction):
    """Open (or merge into) the conversation's ticket, tell the user, start the handoff."""

    def name(self) -> Text:
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        request = build_request(tracker)
        desk = self.desk
        incident = await shown_incident(desk, tracker) if desk is not None and request.priority is not Priority.P1 else None
        if incident is not None:
            if not tracker.get_slot(DEFLECTED_SLOT) and tracker.active_loop_name != HANDOFF_FORM:
                return await deflect(dispatcher, desk, tracker, domain, incident)  # asked again: a linked ticket
            request = replace(request, incident=incident["id"])
        if (desk is not None and request.priority is Priority.P2 and not tracker.get_slot(DETAILS_ASKED)
                and not (tracker.get_slot("chain") and tracker.get_slot("tx_hash"))
                and tracker.active_loop_name != HANDOFF_FORM):
            # Funds in transit: the chain and hash first, so the agent can check at once.
            dispatcher.utter_message(response="utter_transfer_details_intro")
            return [SlotSet(DETAILS_ASKED, True), FollowupAction(DETAILS_FORM)]
        if desk is None:
            dispatcher.utter_message(response="utter_escalation_unavailable")
            dispatcher.utter_message(response=f"utter_priority_note_{request.priority.value.lower()}")
            return []
        try:
            result = await desk.escalate(request.payload())
        except DeskUnavailable as error:
            # Kept on disk and retried by the action server until the desk has it.
            reference = get_outbox().add({**request.payload(), "escalated_at": utc_now_iso()})
            logger.error("escalation of %s queued as R-%d, desk unavailable: %s", request.conversation_id, reference, error)
            dispatcher.utter_message(response="utter_escalation_queued", reference=f"R-{reference}")
            return []
        ticket = result["ticket"]
        opened = "utter_ticket_opened" if result.get("created") else "utter_ticket_merged"
        dispatcher.utter_message(response=opened, ticket_id=ticket["id"])
        if ticket["priority"] == "P1":
            dispatcher.utter_message(response="utter_ticket_urgent", sla=get_settings().desk.sla_minutes["P1"])
        elif ticket["priority"] == "P2":
            dispatcher.utter_message(response="utter_priority_note_p2")
        tell_queue_position(dispatcher, result)
        reset = [SlotSet(DETAILS_ASKED, None)]  # a later, separate P2 case is asked again
        if tracker.active_loop_name == HANDOFF_FORM:
            return reset
        dispatcher.utter_message(response="utter_handoff_started")
        return reset + [FollowupAction(HANDOFF_FORM)]


class ActionTicketStatus(DeskAction):
    """Where the user's open ticket stands."""

    def name(self) -> Text:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        desk = self.desk
        if desk is None:
            dispatcher.utter_message(response="utter_no_open_ticket")
            return []
        try:
            status = await desk.open_ticket(tracker.sender_id)
        except DeskUnavailable as error:
            logger.error("ticket status of %s failed: %s", tracker.sender_id, error)
            dispatcher.utter_message(response="utter_desk_unreachable")
            return []
        if status is None:
            dispatcher.utter_message(response="utter_no_open_ticket")
            return []
        dispatcher.utter_message(response="utter_ticket_status", ticket_id=status["ticket"]["id"])
        tell_queue_position(dispatcher, status)
        return []
