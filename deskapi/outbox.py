"""Escalations the desk could not take yet, kept on disk and retried until it has them (SPEC §6).

When the desk is down the user is told their request is recorded, and it is:
in a :class:`durable.queue.DurableQueue` next to the process, not in memory. The
action server (actions/server.py) and the action gateway (rasa_server/action_gateway.py)
each run :func:`flush_forever` on their own outbox, at start-up and every few
seconds, so neither a desk outage nor a restart loses one. References (R-n, Q-n)
are entry ids; the payload carries ``escalated_at``, so the SLA counts from when
the user asked. A failing escalation does not hold up the others; one the desk
refuses (4xx) is dead-lettered with its reason, visible in the health reports.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from deskapi.client import DeskUnavailable, get_desk_client
from durable.queue import DurableQueue, Entry, Permanent, drain_forever
from settings import PROJECT_ROOT, get_settings

logger = logging.getLogger(__name__)
RETRY_SECONDS = 5.0
# The desk's answers that are not this escalation's fault: retried (and counted) rather than dead at once.
TRANSIENT_STATUSES = {401, 403, 408, 425, 429}


class EscalationOutbox:
    def __init__(self, path: Path) -> None:
        # Attempts count only while the desk answers (see flush_forever): an outage never dead-letters one.
        self.queue = DurableQueue(path, max_attempts=8, base_delay=RETRY_SECONDS, max_delay=300.0)
        self.queue.adopt_legacy("outbox", "SELECT id, NULL, json_extract(payload, '$.conversation_id'), payload,"
                                          " CASE WHEN delivered_at IS NULL THEN 'pending' ELSE 'done' END,"
                                          " created_at, attempts, last_error FROM outbox")

    def add(self, payload: Dict[str, Any]) -> int:
        """Keep an escalation; its id is the user's reference. One conversation's are sent in order."""
        return self.queue.put(payload, group=str(payload.get("conversation_id") or "") or None).id

    def pending(self) -> List[Tuple[int, Dict[str, Any]]]:
        return [(entry.id, entry.payload) for entry in self.queue.entries()]


_outbox: Optional[EscalationOutbox] = None


def get_outbox() -> EscalationOutbox:
    global _outbox
    if _outbox is None:
        path = Path(get_settings().desk.escalation_outbox)
        _outbox = EscalationOutbox(path if path.is_absolute() else PROJECT_ROOT / path)
    return _outbox


async def desk_answers() -> bool:
    desk = get_desk_client()
    if desk is None:
        return False
    try:
        await desk.ping()
    except DeskUnavailable:
        return False
    return True


async def send_to_desk(entry: Entry) -> None:
    desk = get_desk_client()
    if desk is None:
        raise DeskUnavailable("the desk is not configured (no DESK_API_TOKEN)")
    try:
        await desk.escalate(entry.payload)
    except DeskUnavailable as error:
        if error.status is not None and 400 <= error.status < 500 and error.status not in TRANSIENT_STATUSES:
            raise Permanent(str(error)) from error
        raise


async def flush_forever(outbox: EscalationOutbox, every: float = RETRY_SECONDS) -> None:
    await drain_forever(outbox.queue, send_to_desk, ready=desk_answers, every=every, name="escalation outbox")
