"""The escalation seam: ``action_escalate`` and ``action_ticket_status``.

Deciding the priority (SPEC §2) lives here and is final. Creating a ticket is
the job of an agent desk, which is not part of this service yet: until one is
plugged in through :func:`get_escalation_backend`, the bot tells the user
honestly that no human can be reached here. It never invents a ticket id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, Iterable, List, Optional, Protocol, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.history import user_intents
from actions.language import DomainDict

URGENT_INTENTS = frozenset({"suspected_theft", "secret_exposed"})
# Funds may be missing: a transfer that did not arrive somewhere.
FUNDS_IN_TRANSIT_INTENTS = frozenset(
    {"stuck_transaction", "failed_transaction", "deposit_not_received", "cross_chain"}
)
TRANSFER_SLOTS = ("chain", "tx_hash", "address")


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
    """Everything an agent desk needs to open a ticket; never a secret."""

    conversation_id: str
    priority: Priority
    reason: Optional[str]
    details: Dict[str, str] = field(default_factory=dict)


class EscalationBackend(Protocol):
    """What an agent desk implements to receive escalations."""

    def escalate(self, request: EscalationRequest, dispatcher: CollectingDispatcher) -> List[Dict[Text, Any]]:
        """Open or merge the ticket, tell the user about it, return events."""

    def ticket_status(self, conversation_id: str, dispatcher: CollectingDispatcher) -> List[Dict[Text, Any]]:
        """Tell the user where their ticket stands, return events."""


def get_escalation_backend() -> Optional[EscalationBackend]:
    """The connected agent desk; none in this service yet."""
    return None


def build_request(tracker: Tracker) -> EscalationRequest:
    intents = user_intents(tracker)
    reasons = [i for i in intents if i not in (None, "request_human", "nlu_fallback")]
    details = {slot: str(tracker.get_slot(slot)) for slot in TRANSFER_SLOTS if tracker.get_slot(slot)}
    return EscalationRequest(
        conversation_id=tracker.sender_id,
        priority=decide_priority(intents),
        reason=reasons[-1] if reasons else intents[-1] if intents else None,
        details=details,
    )


class ActionEscalate(Action):
    """Hand the conversation to a human, or say honestly that none is connected."""

    def __init__(self, backend: Optional[EscalationBackend] = None) -> None:
        self._backend = backend

    def name(self) -> Text:
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        request = build_request(tracker)
        backend = self._backend or get_escalation_backend()
        if backend is not None:
            return backend.escalate(request, dispatcher)
        dispatcher.utter_message(response="utter_escalation_unavailable")
        dispatcher.utter_message(response=f"utter_priority_note_{request.priority.value.lower()}")
        return []


class ActionTicketStatus(Action):
    """Where the user's ticket stands; without a desk there is none."""

    def __init__(self, backend: Optional[EscalationBackend] = None) -> None:
        self._backend = backend

    def name(self) -> Text:
        return "action_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        backend = self._backend or get_escalation_backend()
        if backend is not None:
            return backend.ticket_status(tracker.sender_id, dispatcher)
        dispatcher.utter_message(response="utter_no_open_ticket")
        return []
