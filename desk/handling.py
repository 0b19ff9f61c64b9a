"""Agents' daily tools on a ticket beyond reply and close: presence, private notes, transfer, hand back to the bot.

Kept apart from ``desk.service`` (tickets' life cycle from the bot's side) so each stays small; both
refuse bad requests with a :class:`DeskError`, so the API and the pages answer alike.

- A note is a ``TicketMessage`` with direction ``note``: shown to agents on the ticket, never in
  ``pending_replies``, so nothing ever delivers it to the user.
- A transfer gives the ticket to another active agent (the holder, or a supervisor for any ticket);
  a claimed ticket stays claimed, by the new agent.
- A hand-back closes the ticket with the outcome ``handed_back`` (its history stays) and the desk
  tells the bot, which tells the user it is back and answers their next message itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import List, Optional, Tuple

from sqlalchemy import select

from desk import assignment
from desk.assignment import Assignment
from desk.models import Agent, Ticket, TicketMessage
from desk.schedule import utcnow
from desk.service import DeskError, DeskService, add_agent_message, required_text


class Handling:
    def __init__(self, service: DeskService) -> None:
        self.service = service
        self.db = service.db

    def set_presence(self, agent: Agent, status: str, languages: Optional[object] = None,
                     now: Optional[datetime] = None) -> Tuple[Agent, List[Assignment]]:
        """Online, busy or offline (and optionally the languages the agent answers in)."""
        now = now or utcnow()
        if agent.username == "api":
            raise DeskError(403, "only a token bound to an agent has a presence (python -m desk create-token NAME --agent USER)")
        with self.db.session() as s:
            try:
                if languages is not None:
                    s.get(Agent, agent.id).languages = assignment.parse_languages(languages)
                moved = assignment.set_presence(s, agent, status, self.service.settings.assignment_cap, now)
            except ValueError as error:
                raise DeskError(400, str(error))
            s.flush()
            row = s.get(Agent, agent.id)
            s.refresh(row)
            return row, moved

    def agents(self) -> List[Agent]:
        with self.db.session() as s:
            return list(s.scalars(select(Agent).where(Agent.active.is_(True), Agent.username != "api")
                                  .order_by(Agent.username)).all())

    def add_note(self, public_id: str, agent: Agent, text: str, now: Optional[datetime] = None) -> TicketMessage:
        """A private note: for agents only, never delivered to the user."""
        now = now or utcnow()
        text = required_text(text, "note")
        with self.db.session() as s:
            ticket = self.service._get_for_update(s, public_id)
            return add_agent_message(s, ticket, "note", text, agent, now)

    def transfer(self, public_id: str, actor: Agent, target: str, now: Optional[datetime] = None) -> Assignment:
        """Give the ticket to ``target``: its holder may, anyone may take an unassigned one, supervisors always."""
        now = now or utcnow()
        with self.db.session() as s:
            ticket = self.service._get_for_update(s, public_id)
            if ticket.status == "closed":
                raise DeskError(409, f"ticket {public_id} is closed")
            if ticket.assignee_id not in (None, actor.id) and actor.role != "supervisor":
                raise DeskError(403, f"ticket {public_id} is held by {ticket.assignee.username}: "
                                     "only they or a supervisor can transfer it")
            to = s.scalars(select(Agent).where(Agent.username == target, Agent.active.is_(True))).first()
            if to is None or to.username == "api":
                raise DeskError(404, f"no active agent {target!r}")
            if to.id == ticket.assignee_id:
                raise DeskError(409, f"ticket {public_id} is already {to.username}'s")
            if ticket.status == "claimed":
                ticket.claimed_at = now
            return assignment.assign(s, ticket, to, now, f"transferred by {actor.username} to")

    def hand_back(self, public_id: str, actor: Agent, now: Optional[datetime] = None) -> Ticket:
        """End the handoff: the ticket closes as ``handed_back`` with its history, the bot takes over."""
        now = now or utcnow()
        with self.db.session() as s:
            ticket = self.service._held_ticket(s, public_id, actor, "is closed already", 403,
                                               ": only they or a supervisor can hand it back")
            ticket.status, ticket.closed_at, ticket.outcome = "closed", now, "handed_back"
            ticket.assignee_id = ticket.assignee_id or actor.id
            s.add(TicketMessage(ticket_id=ticket.id, direction="system", created_at=now,
                                text=f"handed back to the bot by {actor.username}"))
            s.flush()
            s.refresh(ticket)
            return ticket
