"""The one gate every user message passes before Rasa's processor sees it.

In order: control characters blanked (NUL breaks PostgreSQL, bidi and
zero-width marks hide text), pasted secrets redacted, forged ``/intent{...}``
payloads defused. Rasa logs message text at DEBUG and stores it in the tracker
store, so nothing may happen to the text before this gate. The metadata flag
tells later steps (and the agent desk) that a secret was hidden, without it.

A seed phrase pasted in parts (6 + 6 words, 4 + 4 + 4) is caught here too: the
gate remembers, per conversation and in memory only, the run of word-list words
the last message ended with (``SeedTails``), and hides the start of the next
message when the two join into a partial seed. The earlier part is already
stored by then: the message is flagged (``SEED_CONTINUED_METADATA_KEY``) and the
tracker store hides the end of the stored previous message as it saves the turn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from hashlib import sha256
from typing import Any, Awaitable, Callable, FrozenSet, NamedTuple, Optional, Set, Tuple

from rasa.core.channels.channel import UserMessage

from answers.curated import bilingual
from safety.log_masks import log_masks
from safety.payloads import defuse_payload
from safety.redaction import (MARKERS, SEED_CONTINUED_METADATA_KEY, Redaction, Tail, possible_seed_start, redact,
                              redact_continuing)
from safety.text import blank_control_characters, reply_language
from rasa_server.tracker_guard import TrackerStoreUnavailable

logger = logging.getLogger(__name__)

SECRET_METADATA_KEY = "secret_redacted"

MessageHandler = Callable[[UserMessage], Awaitable[Any]]


def conversation_key(channel: Any, sender: Any) -> Tuple[str, str]:
    """The key ``seed_tails`` keeps a conversation under: (channel, sender), as every caller must form it."""
    return str(channel or ""), str(sender)


def _digest(text: str) -> bytes:
    return sha256(text.encode("utf-8", "surrogatepass")).digest()


class _LastMessage(NamedTuple):
    """What ``SeedTails`` keeps of a conversation's last message."""

    at: float
    tail: Optional[Tail]
    digests: FrozenSet[bytes]  # the message as received and as cleaned
    continued: bool  # it continued the message before it into a seed


class SeedTails:
    """Per conversation, the word-list words its last message ended with: in memory only, never on disk.

    At most ``max_conversations`` (least recently used dropped first), each for
    ``ttl_seconds``: the parts of a pasted phrase follow each other within minutes.
    """

    def __init__(self, max_conversations: int = 10_000, ttl_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_conversations, self.ttl_seconds, self._clock = max_conversations, ttl_seconds, clock
        self._tails: "OrderedDict[Tuple[str, str], _LastMessage]" = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._tails)

    def redact(self, conversation: Tuple[str, str], text: str) -> Redaction:
        """``text`` redacted, its start too when it continues the conversation's last message into a seed."""
        digest = _digest(text)
        with self._lock:
            now = self._clock()
            last = self._tails.pop(conversation, None)
            if last is not None and now - last.at > self.ttl_seconds:
                last = None
            if last is not None and digest in last.digests:
                # The same message again, as received or as cleaned (a second pass: the REST channel
                # cleans as it reads the request, then the gate; a redelivery): it continues nothing.
                self._tails[conversation] = last
                again = redact(text)
                return Redaction(again.text, again.findings, continues_previous=last.continued)
            result, tail = redact_continuing(text, last.tail if last else None)
            if tail is not None or result.continues_previous:
                self._tails[conversation] = _LastMessage(now, tail, frozenset({digest, _digest(result.text)}),
                                                         result.continues_previous)
                while len(self._tails) > self.max_conversations:
                    self._tails.popitem(last=False)
            return result

    def clear(self) -> None:
        with self._lock:
            self._tails.clear()


seed_tails = SeedTails()


def _clean(text: str, conversation: Optional[Tuple[str, str]] = None) -> Tuple[str, Set[str], bool]:
    """The cleaned text, the kinds of secret hidden in it (now or by an earlier pass), and whether it
    continued the conversation's previous message into a seed."""
    blanked = blank_control_characters(text)
    result = redact(blanked) if conversation is None else seed_tails.redact(conversation, blanked)
    if conversation is not None:
        # It may be the first part of a phrase pasted in parts: Rasa logs the text next (safety/log_masks.py).
        start = possible_seed_start(result.text)
        if start:
            log_masks.add(start)
    kinds = set(result.kinds) | {kind for kind, marker in MARKERS.items() if marker in text}
    return defuse_payload(result.text), kinds, result.continues_previous


def clean_text(text: str, conversation: Optional[Tuple[str, str]] = None) -> str:
    """Control characters blanked, secrets redacted, forged payloads defused.

    Given the ``conversation`` (channel, sender), a message that continues the last one into a
    seed phrase is hidden too (``seed_tails``), as :func:`clean_user_message` does.
    """
    return _clean(text, conversation)[0]


def clean_user_message(message: UserMessage) -> UserMessage:
    """Clean ``message.text`` in place and flag a hidden secret in the metadata.

    The start of the text is hidden too when it continues the conversation's
    previous message into a seed phrase (``seed_tails``).
    """
    if not isinstance(message.text, str):
        return message
    message.text, kinds, continues = _clean(message.text, conversation_key(message.input_channel, message.sender_id))
    if kinds:
        message.metadata = {**(message.metadata or {}), SECRET_METADATA_KEY: sorted(kinds)}
    if continues:
        # The previous message, stored already, ends with the first part: the tracker store hides it
        # when it saves this turn (rasa_server/tracker_store.py), in whichever process runs the turn.
        message.metadata = {**(message.metadata or {}), SEED_CONTINUED_METADATA_KEY: True}
    return message


def gated(on_new_message: MessageHandler) -> MessageHandler:
    """Wrap a channel's ``on_new_message`` so that only cleaned messages go on.

    When the conversation store is down the message is kept in the spool, to be
    answered once it is back, and the user is told so: never a blank-slate answer.
    Conversations whose home is a worker process have their turn run there
    (rasa_server/workers.py); the answer still goes out on this channel.
    """
    from rasa_server.workers import get_workers

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
    from settings import get_settings
    from rasa_server.spool import get_spool

    reference = get_spool().keep(message.sender_id, message.text or "", message.input_channel, message.metadata)
    language = reply_language([message.text or ""], get_settings().default_language)
    text = bilingual("utter_storage_unavailable")[language]
    logger.error("message %d of %s kept in the spool: the tracker store is unavailable", reference, message.sender_id)
    try:
        await message.output_channel.send_response(message.sender_id, {"text": text})
    except Exception:  # noqa: BLE001 - the message is kept either way
        logger.exception("could not tell %s that the message is kept", message.sender_id)
