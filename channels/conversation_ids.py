"""Which channel owns a conversation id, so no channel can speak inside another's conversation.

Telegram chat ids are not secret: a REST caller that sent ``{"sender": "<chat id>"}``
used to land in that Telegram user's conversation (their ticket id, their handoff,
and the agent's replies). Now each channel's ids live in its own namespace:

- Telegram: ``telegram:<chat id>`` (the output channel strips the prefix to send);
- the widget (socket.io): ids the server issued and signed (``<nonce>.<hmac>``);
- REST: any other id; it may not start with a reserved prefix nor be a signed widget id.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Optional

TELEGRAM_PREFIX = "telegram:"
# Prefixes no REST caller may use: reserved for channels that prove who the user is.
RESERVED_PREFIXES = (TELEGRAM_PREFIX, "widget:", "worker:", "desk:")


def telegram_conversation(chat_id: Any) -> str:
    """The conversation id of a Telegram chat."""
    return f"{TELEGRAM_PREFIX}{chat_id}"


def telegram_chat(conversation_id: str) -> str:
    """The Telegram chat id inside a conversation id (an unprefixed legacy id is the chat id itself)."""
    return conversation_id[len(TELEGRAM_PREFIX):] if conversation_id.startswith(TELEGRAM_PREFIX) else conversation_id


def foreign_to_rest(sender: str, is_widget_session: Optional[Any] = None) -> Optional[str]:
    """Why a REST sender id may not be used (it belongs to another channel), or None."""
    lowered = sender.strip().lower()
    if any(lowered.startswith(prefix) for prefix in RESERVED_PREFIXES):
        return "this conversation id belongs to another channel"
    if is_widget_session is not None and is_widget_session(sender):
        return "this conversation id belongs to the web widget"
    return None


# Metadata keys only our channels and the input gate set; a caller's own values are dropped.
RESERVED_METADATA = ("secret_redacted", "client")


def client_salt() -> str:
    """This deployment's salt for client keys (a secret it already has), so keys cannot be reversed."""
    from settings import get_settings

    settings = get_settings()
    return settings.socketio.session_secret or settings.rasa_api_token or ""


def client_key(address: Optional[str], salt: Optional[str] = None) -> str:
    """A stable, non-reversible key of a caller's address (escalation rate limits), never the address."""
    salt = client_salt() if salt is None else salt
    return "ip-" + hashlib.sha256(f"{salt}:{address or 'unknown'}".encode()).hexdigest()[:16]


def caller_metadata(supplied: Any, client: str) -> Dict[str, Any]:
    """What a caller sent as metadata, less the keys only we set, plus the client key."""
    kept = {k: v for k, v in supplied.items() if k not in RESERVED_METADATA} if isinstance(supplied, dict) else {}
    return {**kept, "client": client}
