"""Messages the bot could not process because its conversation store failed, kept on disk (SPEC §6).

The input gate puts a message here when the tracker store is down and tells the
user it is kept; :func:`replay_forever` (started in the Rasa process by the
action gateway) hands each one to Rasa again once the store answers, on the
channel it came from. The text is stored as the gate left it: cleaned, secrets
already redacted. Kept in a :class:`durable.queue.DurableQueue` grouped by
conversation: one conversation's messages replay in order (a failing one holds
up only the later ones of its own conversation), other conversations go on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

from durable.queue import DurableQueue, Entry, drain_forever

logger = logging.getLogger(__name__)
REPLAY_SECONDS = 3.0


class MessageSpool:
    def __init__(self, path: Path) -> None:
        self.queue = DurableQueue(path, max_attempts=10, base_delay=REPLAY_SECONDS, max_delay=120.0)
        self.queue.adopt_legacy("spool", "SELECT id, NULL, sender_id, json_object('sender_id', sender_id, 'text', text,"
                                         " 'input_channel', input_channel, 'metadata', json(coalesce(metadata, '{}'))),"
                                         " CASE WHEN replayed_at IS NULL THEN 'pending' ELSE 'done' END,"
                                         " created_at, attempts, last_error FROM spool")

    def keep(self, sender_id: str, text: str, input_channel: Optional[str], metadata: Optional[Dict[str, Any]]) -> int:
        payload = {"sender_id": sender_id, "text": text, "input_channel": input_channel, "metadata": metadata or {}}
        return self.queue.put(payload, group=sender_id).id


_spool: Optional[MessageSpool] = None


def get_spool() -> MessageSpool:
    global _spool
    if _spool is None:
        from settings import PROJECT_ROOT, get_settings

        path = Path(get_settings().message_spool)
        _spool = MessageSpool(path if path.is_absolute() else PROJECT_ROOT / path)
    return _spool


async def replay_forever(spool: MessageSpool, ready: Callable[[], bool],
                         handle: Callable[[Dict[str, Any]], Awaitable[None]], every: float = REPLAY_SECONDS) -> None:
    """While the store answers (``ready``), hand each kept message (a dict with its ``id``) to ``handle``."""
    async def send(entry: Entry) -> None:
        await handle({"id": entry.id, **entry.payload})

    await drain_forever(spool.queue, send, ready=ready, every=every, name="message spool")
