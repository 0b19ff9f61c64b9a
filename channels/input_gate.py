"""The one gate every user message passes before Rasa's processor sees it.

In order: control characters blanked (NUL breaks PostgreSQL, bidi and
zero-width marks hide text), pasted secrets redacted, forged ``/intent{...}``
payloads defused. Rasa logs message text at DEBUG and stores it in the tracker
store, so nothing may happen to the text before this gate. The metadata flag
tells later steps (and the agent desk) that a secret was hidden, without it.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Set, Tuple

from rasa.core.channels.channel import UserMessage

from wallet_support.curated import bilingual
from wallet_support.payloads import defuse_payload
from wallet_support.redaction import MARKERS, redact
from wallet_support.text import blank_control_characters, reply_language
from wallet_support.tracker_guard import TrackerStoreUnavailable

logger = logging.getLogger(__name__)

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
    """Wrap a channel's ``on_new_message`` so that only cleaned messages go on.

    When the conversation store is down the message is kept in the spool, to be
    answered once it is back, and the user is told so: never a blank-slate answer.
    Conversations whose home is a worker process have their turn run there
    (wallet_support/workers.py); the answer still goes out on this channel.
    """
    from wallet_support.workers import get_workers

    async def handle(message: UserMessage) -> Any:
        message = clean_user_message(message)
        try:
            return await get_workers().handle(message, on_new_message)
        except TrackerStoreUnavailable:
            await keep_for_later(message)
            return None

    return handle


async def keep_for_later(message: UserMessage) -> None:
    """Spool the message and tell the user, in their language, that it is kept."""
    from wallet_support.settings import get_settings
    from wallet_support.spool import get_spool

    reference = get_spool().keep(message.sender_id, message.text or "", message.input_channel, message.metadata)
    language = reply_language([message.text or ""], get_settings().default_language)
    text = bilingual("utter_storage_unavailable")[language]
    logger.error("message %d of %s kept in the spool: the tracker store is unavailable", reference, message.sender_id)
    try:
        await message.output_channel.send_response(message.sender_id, {"text": text})
    except Exception:  # noqa: BLE001 - the message is kept either way
        logger.exception("could not tell %s that the message is kept", message.sender_id)
