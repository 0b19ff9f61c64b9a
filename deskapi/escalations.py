"""What an escalation is: priority rules and the payload the desk's ``POST /api/escalations`` takes.

Pure shapes and rules, no I/O: the action server, the action gateway's fallback
(in the Rasa process) and the desk all read the same definitions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Dict, Iterable, Optional

URGENT_INTENTS = frozenset({"suspected_theft", "secret_exposed"})
# Funds may be missing: a transfer that did not arrive somewhere.
FUNDS_IN_TRANSIT_INTENTS = frozenset(
    {"stuck_transaction", "failed_transaction", "deposit_not_received", "cross_chain"}
)


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
    client: Optional[str] = None  # hashed client address (REST metadata.client): the desk's per-client limit
    idempotency_key: Optional[str] = None  # the same for a repeated turn: the desk stores it once
    # The message continued the user's previous one into a seed phrase (the input gate's flag): the desk
    # hides the end of the previous user message it keeps on the open ticket.
    continues_previous: bool = False

    def payload(self) -> Dict[str, Any]:
        return {"conversation_id": self.conversation_id, "priority": self.priority.value, "intent": self.reason,
                "details": self.details, "channel": self.channel, "language": self.language, "text": self.text,
                "incident": self.incident, "client": self.client, "idempotency_key": self.idempotency_key,
                **({"continues_previous": True} if self.continues_previous else {})}


# The transaction lookup's facts (actions/tx_lookup.py, slot tx_lookup) as ticket details.
LOOKUP_FIELDS = ("state", "chain", "block", "confirmations", "from", "to", "amount", "reason", "fee")


def lookup_details(raw: Optional[str]) -> Dict[str, str]:
    """``{"lookup_state": "confirmed", "lookup_block": "12", …}`` from the slot's JSON; {} when absent or unreadable."""
    try:
        facts = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    if not isinstance(facts, dict):
        return {}
    return {f"lookup_{key}": str(facts[key])[:128] for key in LOOKUP_FIELDS if facts.get(key) not in (None, "")}


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
