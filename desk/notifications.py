"""What the desk page turns into browser notifications: a short in-memory feed, polled by the page.

A notice is for one agent (a ticket assigned or transferred to them, a user message on their
ticket), for every online agent (a new P1), or for supervisors (the capacity alarm). The feed is
per process and bounded: a notice is useful for a minute, and the queue page remains the record.
The page shows each notice once with the Notification API and a sound (``desk/templates/base.html``).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Deque, Dict, FrozenSet, List, Optional

from desk.models import Agent
from desk.schedule import utcnow

KEPT = 500


@dataclass(frozen=True)
class Notice:
    id: int
    kind: str  # assigned / transferred / user_message / p1 / capacity
    ticket: Optional[str]
    priority: Optional[str]
    detail: str
    agent_ids: FrozenSet[int] = frozenset()  # empty: decided by kind (p1: online agents; capacity: supervisors)
    at: datetime = field(default_factory=utcnow)


class Notices:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._feed: Deque[Notice] = deque(maxlen=KEPT)

    def post(self, kind: str, ticket: Optional[str] = None, priority: Optional[str] = None, detail: str = "",
             agent_ids: FrozenSet[int] = frozenset()) -> Notice:
        notice = Notice(next(self._ids), kind, ticket, priority, detail, frozenset(agent_ids))
        self._feed.append(notice)
        return notice

    @property
    def last_id(self) -> int:
        return self._feed[-1].id if self._feed else 0

    def for_agent(self, agent: Agent, after: int) -> List[Notice]:
        """Notices newer than ``after`` that ``agent`` should see."""
        def wanted(n: Notice) -> bool:
            if n.agent_ids:
                return agent.id in n.agent_ids
            if n.kind == "p1":
                return agent.status == "online"
            if n.kind == "capacity":
                return agent.role == "supervisor"
            return False
        return [n for n in self._feed if n.id > after and wanted(n)]


def notice_json(notice: Notice, texts: Dict[str, str]) -> Dict[str, object]:
    """A notice as the page shows it: title in the agent's language, link to the ticket."""
    title = texts.get(f"notify_{notice.kind}", notice.kind)
    body = " ".join(part for part in (notice.priority, notice.ticket, notice.detail) if part)
    return {"id": notice.id, "kind": notice.kind, "title": title, "body": body,
            "url": f"/desk/tickets/{notice.ticket}" if notice.ticket else "/desk/"}
