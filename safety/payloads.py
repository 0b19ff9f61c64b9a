"""Which ``/intent`` payloads a user's message may carry.

Rasa treats a message starting with ``/`` as a forced intent, with optional
entities (``/intent{"slot": "value"}``). Users can type that into any channel.
Only the payloads the bot itself puts on buttons are honoured, and never with
entities; anything else is handed to the NLU as ordinary text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

# Topics offered by action_clarify, plus the answers to its buttons.
BUTTON_PAYLOAD_INTENTS = frozenset(
    {
        "create_wallet", "import_wallet", "backup_mnemonic", "forgot_password",
        "stuck_transaction", "failed_transaction", "deposit_not_received", "suspected_theft",
        "scam_report", "gas_fee", "add_custom_token", "token_approval", "cross_chain",
        "dapp_connection", "app_connectivity", "official_download", "supported_chains",
        "request_human", "ticket_status", "cancel_handoff", "deny", "affirm", "incident_subscribe",
    }
)
# The answer-feedback buttons (👍 / 👎 after a curated answer): only ever a button, never trained.
FEEDBACK_INTENTS = frozenset({"answer_helpful", "answer_not_helpful"})
BUTTON_PAYLOAD_INTENTS = BUTTON_PAYLOAD_INTENTS | FEEDBACK_INTENTS
# Triggered only by the agent desk through Rasa's authenticated HTTP API; never
# honoured as a typed payload and never trained, so no user message reaches them.
INTERNAL_INTENTS = frozenset({"desk_agent_reply", "desk_ticket_closed", "desk_incident_update"})
assert not BUTTON_PAYLOAD_INTENTS & INTERNAL_INTENTS
_PAYLOAD = re.compile(r"^\s*/(?P<intent>[A-Za-z_][A-Za-z0-9_]*)\s*$")


def allowed_payload_intent(text: str) -> Optional[str]:
    """The intent of a plain, allowed button payload such as ``/gas_fee``; else None."""
    match = _PAYLOAD.match(text)
    if match and match.group("intent") in BUTTON_PAYLOAD_INTENTS:
        return match.group("intent")
    return None


def defuse_payload(text: str) -> str:
    """Leave allowed payloads alone; turn any other ``/...`` into ordinary text."""
    stripped = text.lstrip()
    # The NLU normaliser turns a full-width "／" into "/" before Rasa's payload handler sees it.
    if not unicodedata.normalize("NFKC", stripped[:1]).startswith("/") or allowed_payload_intent(text):
        return text
    return stripped.lstrip("/／") or "?"
