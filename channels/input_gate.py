"""The one gate every user message passes before Rasa's processor sees it.

In order: control characters blanked (NUL breaks PostgreSQL, bidi and
zero-width marks hide text), pasted secrets redacted, forged ``/intent{...}``
payloads defused. Rasa logs message text at DEBUG and stores it in the tracker
store, so nothing may happen to the text before this gate. The metadata flag
tells later steps (and the agent desk) that a secret was hidden, without it.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Set, Tuple

from rasa.core.channels.channel import UserMessage

from wallet_support.payloads import defuse_payload
from wallet_support.redaction import MARKERS, redact
from wallet_support.text import blank_control_characters

SECRET_METADATA_KEY = "secret_redacted"

MessageHandler = Callable[[UserMessage], Awaitable[Any]]


def _clean(text: str) -> Tuple[str, Set[str]]:
    """The cleaned text and the kinds of secret hidden in it, now or by an earlier pass."""
    result = redact(blank_control_characters(text))
    kinds = set(result.kinds) | {kind for kind, marker in MARKERS.items() if marker in text}
    return defuse_payload(result.text), kinds


def clean_text(text: str) -> str:
    """Control characters blanked, secrets redacted, forged payloads defused."""
    return _clean(text)[0]


def clean_user_message(message: UserMessage) -> UserMessage:
    """Clean ``message.text`` in place and flag a hidden secret in the metadata."""
    if not isinstance(message.text, str):
        return message
    message.text, kinds = _clean(message.text)
    if kinds:
        message.metadata = {**(message.metadata or {}), SECRET_METADATA_KEY: sorted(kinds)}
    return message


def gated(on_new_message: MessageHandler) -> MessageHandler:
    """Wrap a channel's ``on_new_message`` so that only cleaned messages go on."""

    async def handle(message: UserMessage) -> Any:
        return await on_new_message(clean_user_message(message))

    return handle
