"""Tickets as the JSON API shows them (times in UTC ISO-8601 with a Z)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Dict, Optional

from desk.incidents import IncidentCounts, incident_chains, incident_intents
from desk.models import Incident, IncidentUpdate, Ticket, TicketMessage
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
        "incident": ticket.incident.public_id if ticket.incident else None,
        "flagged_flood": bool(ticket.flagged_flood),
    }


def delivery_state(message: TicketMessage) -> Optional[str]:
    """Agent replies: ``delivered`` (the user's channel took it), ``pending`` (not tried yet), ``undelivered``."""
    if message.direction != "agent":
        return None
    if message.delivered_at is not None:
        return "delivered"
    return "undelivered" if message.delivery_attempts else "pending"


def message_json(message: TicketMessage) -> Dict[str, Any]:
    return {
        "id": message.id,
        "from": message.direction,
        "text": message.text,
        "intent": message.intent,
        "agent": message.agent.username if message.agent else None,
        "created_at": iso(message.created_at),
        "delivered_at": iso(message.delivered_at),
        "delivery": delivery_state(message),
        "delivery_attempts": message.delivery_attempts if message.direction == "agent" else None,
        "last_error": message.last_error if message.direction == "agent" and message.delivered_at is None else None,
    }


def ticket_detail(ticket: Ticket) -> Dict[str, Any]:
    return {
        **ticket_summary(ticket),
        "language": ticket.language,
        "details": {k: getattr(ticket, k) for k in ("chain", "tx_hash", "address") if getattr(ticket, k)},
        "lookup": json.loads(ticket.lookup) if ticket.lookup else None,
        "claimed_at": iso(ticket.claimed_at),
        "first_response_at": iso(ticket.first_response_at),
        "closed_at": iso(ticket.closed_at),
        "outcome": ticket.outcome,
        "csat": ticket.csat,
        "escalations": ticket.escalations,
        "secret_redacted": bool(ticket.secret_redacted),
        "messages": [message_json(m) for m in ticket.messages],
    }


def eta_json(eta: Eta) -> Dict[str, Any]:
    return {
        "queue_position": eta.queue_position,
        "agents_on_shift": eta.agents_on_shift,
        "eta_minutes": eta.minutes,
        "next_shift_start": iso(eta.next_shift_start),
    }


def incident_summary(incident: Incident, counts: Optional[IncidentCounts] = None) -> Dict[str, Any]:
    summary: Dict[str, Any] = {
        "id": incident.public_id,
        "title": incident.title,
        "status": incident.status,
        "message_zh": incident.message_zh,
        "message_en": incident.message_en,
        "intents": incident_intents(incident),
        "chains": incident_chains(incident),
        "eta": iso(incident.eta),
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "resolved_at": iso(incident.resolved_at),
    }
    if counts is not None:
        summary["counts"] = {"asked": counts.asked, "subscribed": counts.subscribed, "deflected": counts.deflected,
                             "linked_tickets": counts.linked_tickets, "deliveries": counts.deliveries}
    return summary


def incident_update_json(entry: IncidentUpdate) -> Dict[str, Any]:
    return {
        "id": entry.id,
        "status": entry.status,
        "message_zh": entry.message_zh,
        "message_en": entry.message_en,
        "eta": iso(entry.eta),
        "notified": entry.notified,
        "author": entry.author.username if entry.author else None,
        "created_at": iso(entry.created_at),
    }


def incident_detail(incident: Incident, counts: IncidentCounts) -> Dict[str, Any]:
    return {**incident_summary(incident, counts), "updates": [incident_update_json(u) for u in incident.updates]}
