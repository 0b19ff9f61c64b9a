"""Hide pasted secrets before Rasa's processor, tracker store or logs see the text.

Every input channel of ours passes its ``on_new_message`` through
:func:`redacting_handler`, so the one redactor (wallet_support.redaction) guards
every path. The flag in the message metadata tells later steps (and the agent
desk) that the user exposed a secret, without keeping it.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage

from wallet_support.redaction import MARKERS, redact

SECRET_METADATA_KEY = "secret_redacted"

MessageHandler = Callable[[UserMessage], Awaitable[Any]]


def redact_user_message(message: UserMessage) -> UserMessage:
    """Replace secrets in ``message.text`` in place and flag what kind they were."""
    if not isinstance(message.text, str):
        return message
    result = redact(message.text)
    kinds = set(result.kinds) | {kind for kind, marker in MARKERS.items() if marker in message.text}
    message.text = result.text
    if kinds:
        message.metadata = {**(message.metadata or {}), SECRET_METADATA_KEY: sorted(kinds)}
    return message


def redacting_handler(on_new_message: MessageHandler) -> MessageHandler:
    """Wrap a channel's ``on_new_message`` so that only redacted text goes on."""

    async def handle(message: UserMessage) -> Any:
        return await on_new_message(redact_user_message(message))

    return handle
