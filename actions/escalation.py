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
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.desk_client import DeskAction, DeskUnavailable
from actions.history import user_intents
from actions.incidents import DEFLECTED_SLOT, deflect, shown_incident
from actions.outbox import get_outbox
from actions.language import DomainDict, local_time, tracker_language
from wallet_support.settings import get_settings

logger = logging.getLogger(__name__)

URGENT_INTENTS = frozenset({"suspected_theft", "secret_exposed"})
# Funds may be missing: a transfer that did not arrive somewhere.
FUNDS_IN_TRANSIT_INTENTS = frozenset(
    {"stuck_transaction", "failed_transaction", "deposit_not_received", "cross_chain"}
)
TRANSFER_SLOTS = ("chain", "tx_hash", "address")
HANDOFF_FORM = "handoff_form"
DETAILS_FORM = "transfer_details_form"
DETAILS_ASKED = "transfer_details_asked"
SKIPPED = "unknown"  # what transfer_details_form stores for a skipped answer


class Priority(str, Enum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


def decide_priority(intents_in_conversation: Iterable[Optional[str]]) -> Priority:
    """P1 theft, P2 funds in transit, P3 anything else (SPEC §2)."""
    seen = set(intents_in_conversation)
    if seen & URGENT_INTENTS:
        return Priority.P1
    if seen & FUNDS_IN_TRANSIT_INTENTS:
        return Priority.P2
    return Priority.P3


@dataclass(frozen=True)
class EscalationRequest:
    """Everything the desk needs to open a ticket; never a secret (text is redacted at the channel)."""

    conversation_id: str
    priority: Priority
    reason: Optional[str]
    details: Dict[str, str] = field(default_factory=dict)
    channel: str = "unknown"
    language: str = "zh"
    text: Optional[str] = None
    incident: Optional[str] = None  # the incident the user was told about and still wants a person for

    def payload(self) -> Dict[str, Any]:
        return {"conversation_id": self.conversation_id, "priority": self.priority.value, "intent": self.reason,
                "details": self.details, "channel": self.channel, "language": self.language, "text": self.text,
                "incident": self.incident}


def build_request(tracker: Tracker) -> EscalationRequest:
    intents = user_intents(tracker)
    reasons = [i for i in intents if i not in (None, "request_human", "nlu_fallback")]
    details = {slot: str(tracker.get_slot(slot)) for slot in TRANSFER_SLOTS
               if tracker.get_slot(slot) and tracker.get_slot(slot) != SKIPPED}
    return EscalationRequest(
        conversation_id=tracker.sender_id,
        priority=decide_priority(intents),
        reason=reasons[-1] if reasons else intents[-1] if intents else None,
        details=details,
        channel=tracker.get_latest_input_channel() or "unknown",
        language=tracker_language(tracker),
        text=(tracker.latest_message or {}).get("text"),
    )


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


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
