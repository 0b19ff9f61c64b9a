"""Tickets as the JSON API shows them (times in UTC ISO-8601 with a Z)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, Optional

from desk.models import Ticket, TicketMessage
from desk.schedule import Eta


def iso(value: Optional[datetime]) -> Optional[str]:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def ticket_summary(ticket: Ticket) -> Dict[str, Any]:
    return {
        "id": ticket.public_id,
        "priority": ticket.priority,
        "status": ticket.status,
        "conversation_id": ticket.conversation_id,
        "channel": ticket.channel,
        "intent": ticket.intent,
        "created_at": iso(ticket.created_at),
        "sla_deadline": iso(ticket.sla_deadline),
        "assignee": ticket.assignee.username if ticket.assignee else None,
    }


def message_json(message: TicketMessage) -> Dict[str, Any]:
    return {
        "id": message.id,
        "from": message.direction,
        "text": message.text,
        "intent": message.intent,
        "agent": message.agent.username if message.agent else None,
        "created_at": iso(message.created_at),
        "delivered_at": iso(message.delivered_at),
    }


def ticket_detail(ticket: Ticket) -> Dict[str, Any]:
    return {
        **ticket_summary(ticket),
        "language": ticket.language,
        "details": {k: getattr(ticket, k) for k in ("chain", "tx_hash", "address") if getattr(ticket, k)},
        "claimed_at": iso(ticket.claimed_at),
        "first_response_at": iso(ticket.first_response_at),
        "closed_at": iso(ticket.closed_at),
        "outcome": ticket.outcome,
        "csat": ticket.csat,
        "escalations": ticket.escalations,
        "messages": [message_json(m) for m in ticket.messages],
    }


def eta_json(eta: Eta) -> Dict[str, Any]:
    return {
        "queue_position": eta.queue_position,
        "agents_on_shift": eta.agents_on_shift,
        "eta_minutes": eta.minutes,
        "next_shift_start": iso(eta.next_shift_start),
    }
