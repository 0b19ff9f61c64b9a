"""What the bot answers when its action server cannot (SPEC §6: the user never gets silence).

Runs inside the Rasa process, called by the action gateway
(rasa_server/action_gateway.py) with the very request Rasa meant for the action
server, and answers in the action server's format. It needs no model and no
action server: FAQ questions get their curated answer, an escalation goes to
the desk directly or, when the desk is down too, into a durable outbox that is
retried until the desk has it, a message during a handoff is relayed the same
way, and anything else gets an honest "temporarily unavailable, your message
is kept". Theft and exposed secrets keep their safety checklist, which Rasa
sends itself before ``action_escalate``.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker

from deskapi.client import DeskUnavailable, get_desk_client
from answers.escalation import RELAY_KEY, build_request, continues_seed, idempotency_key
from answers.handoff import HANDOFF_SLOT
from deskapi.escalations import utc_now_iso
from deskapi.outbox import EscalationOutbox
from answers.topics import FAQ_INTENTS

logger = logging.getLogger(__name__)

Answer = Dict[str, List[Dict[str, Any]]]
OUTBOX_PREFIX = "Q-"  # gateway outbox references, distinct from the action server's R-n


def _say(*responses: str, **fields: Any) -> List[Dict[str, Any]]:
    return [{"response": name, **fields} for name in responses]


def _slot(name: str, value: Any) -> Dict[str, Any]:
    return {"event": "slot", "name": name, "value": value, "timestamp": None}


class ActionFallback:
    """Answers for ``next_action`` when the action server is down, slow or failing."""

    def __init__(self, outbox: EscalationOutbox) -> None:
        self.outbox = outbox

    async def answer(self, request: Dict[str, Any]) -> Answer:
        name = str(request.get("next_action") or "")
        tracker = Tracker.from_dict(request.get("tracker") or {"sender_id": "unknown", "events": [], "slots": {}})
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if name == "action_answer_faq" and intent in FAQ_INTENTS:
            return {"events": [], "responses": _say(f"utter_{intent}")}
        if name == "action_lookup_transaction":
            # No lookup without the action server: the curated answer, and the reference is let go.
            responses = _say(f"utter_{intent}") if intent in FAQ_INTENTS else _say("utter_service_degraded")
            return {"events": [_slot("tx_reference", None)], "responses": responses}
        if name == "action_escalate":
            return await self._escalate(tracker)
        if name == "validate_handoff_form":
            return await self._relay(tracker)
        if name.startswith("validate_"):
            return self._accept_form_answer(tracker)
        return {"events": [], "responses": _say("utter_service_degraded")}

    async def _escalate(self, tracker: Tracker) -> Answer:
        payload = build_request(tracker).payload()
        ticket = await self._to_desk(payload)
        if ticket is not None:
            opened = "utter_ticket_opened" if ticket.get("created") else "utter_ticket_merged"
            responses = _say(opened, ticket_id=ticket["ticket"]["id"])
            if ticket["ticket"]["priority"] != "P3":
                responses += _say(f"utter_priority_note_{ticket['ticket']['priority'].lower()}")
            return {"events": [], "responses": responses + _say("utter_service_degraded_handoff")}
        reference = self.outbox.add({**payload, "escalated_at": utc_now_iso()})
        logger.error("escalation of %s kept in the gateway outbox as %s%d", tracker.sender_id, OUTBOX_PREFIX, reference)
        return {"events": [], "responses": _say("utter_escalation_queued", reference=f"{OUTBOX_PREFIX}{reference}")}

    async def _relay(self, tracker: Tracker) -> Answer:
        """A message to the agent: to the ticket now, or into the outbox (it merges into the open ticket)."""
        text = (tracker.latest_message or {}).get("text") or ""
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        desk = get_desk_client()
        if text and desk is not None:
            try:
                await desk.append_message(tracker.sender_id, text, intent, None, idempotency_key(tracker, RELAY_KEY),
                                          continues_seed(tracker.latest_message or {}))
            except DeskUnavailable as error:
                logger.error("relay of %s kept in the gateway outbox, the desk is unavailable too: %s", tracker.sender_id, error)
                self.outbox.add({**build_request(tracker).payload(), "escalated_at": utc_now_iso()})
        return {"events": [_slot(HANDOFF_SLOT, None)], "responses": _say("utter_message_kept")}

    @staticmethod
    def _accept_form_answer(tracker: Tracker) -> Answer:
        """A form's answer without its validation: take what the form extracted."""
        requested = tracker.get_slot("requested_slot")
        value = tracker.get_slot(requested) if requested else None
        return {"events": [_slot(requested, value)] if requested and value is not None else [], "responses": []}

    async def _to_desk(self, payload: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        desk = get_desk_client()
        if desk is None:
            return None
        try:
            return await desk.escalate(payload)
        except DeskUnavailable as error:
            logger.error("the desk is unavailable too: %s", error)
            return None
