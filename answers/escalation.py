"""Building an escalation request from a conversation (rasa-sdk tracker).

Used by ``action_escalate`` in the action server and by the gateway's fallback
in the Rasa process, so both send the desk the same request.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Optional

from rasa_sdk import Tracker

from answers.history import user_intents
from answers.language import tracker_language
from deskapi.escalations import EscalationRequest, decide_priority, lookup_details
from safety.redaction import SEED_CONTINUED_METADATA_KEY

TRANSFER_SLOTS = ("chain", "tx_hash", "address")
HANDOFF_FORM = "handoff_form"
DETAILS_FORM = "transfer_details_form"
DETAILS_ASKED = "transfer_details_asked"
SKIPPED = "unknown"  # what transfer_details_form stores for a skipped answer
LOOKUP_SLOT = "tx_lookup"  # set by action_lookup_transaction


ESCALATION_KEY, RELAY_KEY = "escalation", "relay"


def continues_seed(message: Dict[str, Any]) -> bool:
    """Whether the input gate flagged this user message as continuing the previous one into a seed
    phrase: the desk then hides the end of the previous message it keeps on the ticket."""
    return bool((message.get("metadata") or {}).get(SEED_CONTINUED_METADATA_KEY))


def idempotency_key(tracker: Tracker, action: str) -> Optional[str]:
    """The desk's de-duplication key for what ``action`` sends about the latest user message.

    A turn can run twice: the Rasa front runs it again when its worker took the message but
    did not answer in time (``rasa_server/workers.py``), and the gateway answers a turn the
    action server may already have handled. Both runs carry the user message's id (the
    front forwards it to the worker), so they derive the same key; the timestamp stands in
    for a message without an id. None when there is no user message.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            turn = event.get("message_id") or event.get("timestamp")
            if not turn:
                return None
            return hashlib.sha256(f"{tracker.sender_id}\x1f{turn}\x1f{action}".encode()).hexdigest()
    return None


def build_request(tracker: Tracker) -> EscalationRequest:
    intents = user_intents(tracker)
    reasons = [i for i in intents if i not in (None, "request_human", "nlu_fallback")]
    details = {slot: str(tracker.get_slot(slot)) for slot in TRANSFER_SLOTS
               if tracker.get_slot(slot) and tracker.get_slot(slot) != SKIPPED}
    details.update(lookup_details(tracker.get_slot(LOOKUP_SLOT)))  # what the bot looked up on chain
    client = ((tracker.latest_message or {}).get("metadata") or {}).get("client")
    return EscalationRequest(
        conversation_id=tracker.sender_id,
        priority=decide_priority(intents),
        reason=reasons[-1] if reasons else intents[-1] if intents else None,
        details=details,
        channel=tracker.get_latest_input_channel() or "unknown",
        language=tracker_language(tracker),
        text=(tracker.latest_message or {}).get("text"),
        client=client if isinstance(client, str) and client else None,
        idempotency_key=idempotency_key(tracker, ESCALATION_KEY),
        continues_previous=continues_seed(tracker.latest_message or {}),
    )
