"""Presence and auto-assignment: which online agent gets a new or re-opened ticket.

An agent is online, busy or offline. A ticket that needs a person is assigned, round-robin, to an
online agent below the per-agent cap (``desk.assignment_cap``: tickets they hold that are not
closed); a zh ticket goes to zh-speaking agents when any of them can take it, else to anyone
online. The agent assigned longest ago goes next. Nobody available: the ticket stays in the queue
unassigned, as before. An assignment is not a claim: the ticket stays ``open`` with its assignee
until the agent claims or replies, and going offline hands those unclaimed tickets back to the
queue (each is offered to the other online agents first).

Everything here runs inside the caller's database session, so an assignment commits with the
escalation that caused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desk.models import PRESENCE, Agent, Ticket, TicketMessage

OPEN_STATUSES = ("open", "claimed")
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Assignment:
    """What an assignment changed, for notifications: the ticket and the agent it went to."""

    ticket_id: int
    public_id: str
    agent_id: int
    priority: str


def parse_languages(value: object) -> str:
    """``"zh,en"`` or ``["zh"]`` → ``"zh,en"`` / ``"zh"``; raises ValueError for anything else."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else None
    if items is None:
        raise ValueError("languages must be a list such as [\"zh\", \"en\"]")
    cleaned = [str(i).strip() for i in items if str(i).strip()]
    if not cleaned or any(i not in LANGUAGES for i in cleaned):
        raise ValueError("languages must name zh and/or en")
    return ",".join(dict.fromkeys(cleaned))


def online_agents(s: Session) -> List[Agent]:
    return list(s.scalars(select(Agent).where(Agent.active.is_(True), Agent.status == "online")).all())


def count_online(s: Session) -> int:
    return int(s.scalar(select(func.count(Agent.id)).where(Agent.active.is_(True), Agent.status == "online")) or 0)


def loads(s: Session, agent_ids: List[int]) -> Dict[int, int]:
    """Not-closed tickets each agent holds (assigned or claimed)."""
    if not agent_ids:
        return {}
    rows = s.execute(select(Ticket.assignee_id, func.count(Ticket.id))
                     .where(Ticket.assignee_id.in_(agent_ids), Ticket.status.in_(OPEN_STATUSES))
                     .group_by(Ticket.assignee_id)).all()
    counts = {agent_id: 0 for agent_id in agent_ids}
    counts.update({agent_id: int(n) for agent_id, n in rows})
    return counts


def pick_agent(s: Session, language: str, cap: int, exclude: Optional[int] = None) -> Optional[Agent]:
    """The next online agent for a ticket in ``language``, or None when everyone is at the cap."""
    candidates = [a for a in online_agents(s) if a.id != exclude]
    load = loads(s, [a.id for a in candidates])
    free = [a for a in candidates if load[a.id] < cap]
    speakers = [a for a in free if language in (a.languages or "").split(",")]
    pool = speakers or free
    if not pool:
        return None
    # Round-robin: never assigned first, then the one assigned longest ago; id breaks ties.
    return min(pool, key=lambda a: (a.last_assigned_at is not None, a.last_assigned_at or datetime.min, a.id))


def assign(s: Session, ticket: Ticket, agent: Agent, now: datetime, reason: str) -> Assignment:
    """Give ``ticket`` to ``agent`` (unclaimed) and note it on the ticket."""
    ticket.assignee_id, ticket.assigned_at = agent.id, now
    agent.last_assigned_at = now
    s.add(TicketMessage(ticket_id=ticket.id, direction="system", text=f"{reason}: {agent.username}", created_at=now))
    return Assignment(ticket.id, ticket.public_id, agent.id, ticket.priority)


def auto_assign(s: Session, ticket: Ticket, cap: int, now: datetime, exclude: Optional[int] = None) -> Optional[Assignment]:
    """Assign an open, unassigned ticket if an online agent can take it; None leaves it in the queue."""
    if ticket.status != "open" or ticket.assignee_id is not None or ticket.flagged_flood:
        return None
    agent = pick_agent(s, ticket.language or "zh", cap, exclude=exclude)
    return assign(s, ticket, agent, now, "assigned") if agent is not None else None


def set_presence(s: Session, agent: Agent, status: str, cap: int, now: datetime) -> List[Assignment]:
    """Set ``agent``'s presence; going offline (or busy) hands their unclaimed tickets on.

    Returns the re-assignments that followed (to other online agents), for notifications.
    """
    if status not in PRESENCE:
        raise ValueError(f"status must be one of {', '.join(PRESENCE)}")
    row = s.get(Agent, agent.id)
    row.status, row.status_at = status, now
    moved: List[Assignment] = []
    if status == "offline":
        held = s.scalars(select(Ticket).where(Ticket.assignee_id == row.id, Ticket.status == "open")
                         .order_by(Ticket.priority, Ticket.sla_deadline)).all()
        for ticket in held:
            ticket.assignee_id, ticket.assigned_at = None, None
            s.add(TicketMessage(ticket_id=ticket.id, direction="system", created_at=now,
                                text=f"back to the queue: {row.username} went offline"))
            s.flush()
            again = auto_assign(s, ticket, cap, now, exclude=row.id)
            if again is not None:
                moved.append(again)
    return moved
