"""The agent's context on the ticket page: helpers the templates call (registered as Jinja globals).

Channel and language are on the ticket; this adds the conversation's earlier tickets, the
attachments, the agents a ticket can be transferred to, and the bot's clarifying questions
(the bot's lines right after a message it was unsure about) from the transcript.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from jinja2 import Environment
from sqlalchemy import select

from desk.attachments import AttachmentStore
from desk.handling import Handling
from desk.models import Ticket
from desk.service import DeskService

UNSURE_INTENTS = ("nlu_fallback", "out_of_scope")
EARLIER_SHOWN = 10


def earlier_tickets(service: DeskService, ticket: Ticket) -> List[Ticket]:
    with service.db.session() as s:
        return list(s.scalars(select(Ticket).where(Ticket.conversation_id == ticket.conversation_id, Ticket.id != ticket.id)
                              .order_by(Ticket.created_at.desc()).limit(EARLIER_SHOWN)).unique().all())


def clarifications(transcript: Optional[List[Dict[str, Any]]]) -> List[str]:
    """The bot's answers to messages it classified as unclear: its clarifying questions."""
    found, previous = [], None
    for line in transcript or ():
        if line.get("from") == "bot" and previous is not None and previous.get("intent") in UNSURE_INTENTS:
            found.append(line["text"])
        if line.get("from") == "user":
            previous = line
    return found


def register(templates: Environment, service: DeskService, attachments: AttachmentStore, handling: Handling) -> None:
    templates.globals.update(
        earlier_tickets=lambda ticket: earlier_tickets(service, ticket),
        attachments_of=lambda ticket: attachments.of_ticket(ticket.id),
        transfer_targets=handling.agents,
        clarifications=clarifications,
    )

