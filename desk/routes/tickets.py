"""Tickets: the JSON API (agents' tools and the bot's escalations and handoff) and the agents' pages."""

from __future__ import annotations

import json

import logging
from datetime import datetime, timedelta
from typing import Any, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.models import Agent, Ticket
from desk.rasa_client import RasaUnavailable
from desk.routes.agents import after_escalation, after_user_message
from desk.routes.common import UI_TEXT, api, bot_api, form_value, json_body, json_string, page, render_for
from desk.schedule import utcnow
from desk.serialize import eta_json, message_json, ticket_detail, ticket_summary
from desk.service import DeskError, store_text
from desk.sessions import ActiveSession

logger = logging.getLogger(__name__)
bp = Blueprint("tickets")


def _escalated_at(value: Any) -> Optional[datetime]:
    """When an escalation queued by the bot during a desk outage really happened (SLA counts from then)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.rstrip("Z"))
    except ValueError:
        raise DeskError(400, "'escalated_at' must be an ISO-8601 UTC time")
    now = utcnow()
    return moment if now - timedelta(days=7) <= moment <= now else None


def _idempotency_key(body: dict) -> Optional[str]:
    """The bot's key for a request it may send twice (a repeated turn): a string of at most 64 characters."""
    key = body.get("idempotency_key")
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= 64:
        raise DeskError(400, "'idempotency_key' must be a string of 1-64 characters")
    return key


def _page_if_p1(request: Request, ticket: Ticket) -> None:
    """A new or raised P1 pages on-call now, not at the next round of the loop (the pager coalesces bursts)."""
    if ticket.priority == "P1" and ticket.paged_at is None and not ticket.flagged_flood:
        request.app.add_task(request.app.ctx.desk.pager.run_round())


# ----- JSON API: agents' tools -------------------------------------------------
@bp.get("/api/tickets")
@api
async def list_tickets(request: Request, agent: Agent) -> HTTPResponse:
    tickets = request.app.ctx.service.queue(request.args.get("status", "open"))
    return response.json({"tickets": [ticket_summary(t) for t in tickets]})


@bp.get("/api/tickets/<public_id>")
@api
async def get_ticket(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    return response.json(ticket_detail(request.app.ctx.service.get(public_id)))


@bp.post("/api/tickets/<public_id>/claim")
@api
async def claim_ticket(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    service = request.app.ctx.service
    service.claim(public_id, agent)
    return response.json(ticket_detail(service.get(public_id)))


@bp.post("/api/tickets/<public_id>/reply")
@api
async def reply_ticket(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    text = json_string(request, "text")
    service = request.app.ctx.service
    message = service.reply(public_id, agent, text)
    ticket = service.get(public_id)
    request.app.add_task(request.app.ctx.desk.deliver(ticket.conversation_id))
    return response.json(message_json(message), status=201)


@bp.post("/api/tickets/<public_id>/messages/<message_id:int>/retry")
@api
async def retry_reply(request: Request, agent: Agent, public_id: str, message_id: int) -> HTTPResponse:
    message = request.app.ctx.service.retry_delivery(public_id, message_id)
    request.app.add_task(request.app.ctx.desk.deliver(message.ticket.conversation_id))
    return response.json(message_json(message), status=202)


@bp.post("/api/tickets/<public_id>/close")
@api
async def close_ticket(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    outcome = json_body(request).get("outcome", "resolved")
    service = request.app.ctx.service
    ticket = service.close(public_id, agent, str(outcome))
    request.app.add_task(request.app.ctx.desk.announce_close(ticket.conversation_id))
    return response.json(ticket_detail(service.get(public_id)))


# ----- JSON API: what the bot's actions call ------------------------------------
@bp.post("/api/escalations")
@bot_api
async def escalate(request: Request, agent: Agent) -> HTTPResponse:
    body = json_body(request)
    conversation_id, priority = body.get("conversation_id"), body.get("priority")
    if not isinstance(conversation_id, str) or not isinstance(priority, str):
        raise DeskError(400, "'conversation_id' and 'priority' (strings) are required")
    details = body.get("details") or {}
    if not isinstance(details, dict):
        raise DeskError(400, "'details' must be an object")
    incident = body.get("incident")
    incident_id = request.app.ctx.incidents.incident_id(incident) if isinstance(incident, str) else None
    result = request.app.ctx.service.escalate(
        conversation_id, priority, channel=str(body.get("channel") or "unknown"), incident_id=incident_id,
        now=_escalated_at(body.get("escalated_at")),
        intent=body.get("intent") if isinstance(body.get("intent"), str) else None,
        language=str(body.get("language") or "zh"), details=details,
        text=body.get("text") if isinstance(body.get("text"), str) else None,
        client=body.get("client") if isinstance(body.get("client"), str) else None,
        idempotency_key=_idempotency_key(body), continues_previous=body.get("continues_previous") is True)
    _page_if_p1(request, result.ticket)
    after_escalation(request, result)
    return response.json({"ticket": ticket_summary(result.ticket), "created": result.created, **eta_json(result.eta)},
                         status=201 if result.created else 200)


@bp.get("/api/conversations/<conversation_id>/ticket")
@bot_api
async def conversation_ticket(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
    found = request.app.ctx.service.conversation_status(conversation_id)
    if found is None:
        raise DeskError(404, "no open ticket for this conversation")
    ticket, eta = found
    return response.json({"ticket": ticket_summary(ticket), **eta_json(eta)})


@bp.post("/api/conversations/<conversation_id>/messages")
@bot_api
async def conversation_message(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
    body = json_body(request)
    if not isinstance(body.get("text"), str):
        raise DeskError(400, "'text' (a string) is required")
    ticket = request.app.ctx.service.append_user_message(conversation_id, body["text"], intent=body.get("intent"),
                                                         priority=body.get("priority"),
                                                         idempotency_key=_idempotency_key(body),
                                                         continues_previous=body.get("continues_previous") is True)
    _page_if_p1(request, ticket)
    after_user_message(request, ticket)
    return response.json({"ticket": ticket_summary(ticket)}, status=201)


@bp.post("/api/conversations/<conversation_id>/cancel")
@bot_api
async def conversation_cancel(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
    return response.json({"ticket": ticket_summary(request.app.ctx.service.cancel_by_user(conversation_id))})


@bp.post("/api/conversations/<conversation_id>/csat")
@bot_api
async def conversation_csat(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
    body = json_body(request)
    rating, comment = body.get("rating"), body.get("comment")
    valid = isinstance(rating, int) and not isinstance(rating, bool)
    ticket = request.app.ctx.service.record_csat(conversation_id, rating if valid else -1,
                                                 comment=comment if isinstance(comment, str) else None)
    return response.json({"ticket": ticket_summary(ticket), "csat": ticket.csat, "comment": ticket.csat_comment})


@bp.get("/api/conversations/<conversation_id>/replies")
@bot_api
async def conversation_replies(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
    replies = request.app.ctx.service.pending_replies(conversation_id)
    return response.json({"replies": [message_json(m) for m in replies]})


@bp.post("/api/conversations/<conversation_id>/replies/deliver")
@bot_api
async def conversation_replies_deliver(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
    """The user is reachable again (a widget reconnected with its session): deliver what is pending now."""
    pending = len(request.app.ctx.service.pending_replies(conversation_id))
    if pending:
        request.app.add_task(request.app.ctx.desk.deliver(conversation_id))
    return response.json({"pending": pending}, status=202)


# ----- agents' pages ----------------------------------------------------------
@bp.get("/")
async def root(request: Request) -> HTTPResponse:
    return response.redirect("/desk/")


@bp.get("/desk/")
@page
async def queue_page(request: Request, session: ActiveSession) -> HTTPResponse:
    service = request.app.ctx.service
    metrics = service.metrics()
    return render_for(request, session, "queue.html", tickets=service.queue("open"),
                      agents_on_shift=metrics["agents_on_shift"])


@bp.get("/desk/tickets/<public_id>")
@page
async def ticket_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    ticket = request.app.ctx.service.get(public_id)
    try:
        transcript = await request.app.ctx.rasa.transcript(ticket.conversation_id)
        transcript = [{**line, "text": store_text(line["text"])} for line in transcript]
    except RasaUnavailable as error:
        logger.warning("transcript of %s unavailable: %s", public_id, error)
        transcript = None
    if not ticket.secret_redacted and any(line.get("secret_redacted") for line in transcript or ()):
        request.app.ctx.service.mark_secret_redacted(public_id)
        ticket.secret_redacted = True
    return render_for(request, session, "ticket.html", ticket=ticket, transcript=transcript,
                      lookup=json.loads(ticket.lookup) if ticket.lookup else None,
                      error=request.args.get("error"))


@bp.get("/desk/tickets/<public_id>/thread")
@page
async def ticket_thread(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    template = request.app.ctx.desk.templates.get_template("thread.html")
    html = template.render(t=UI_TEXT[session.language], ticket=request.app.ctx.service.get(public_id),
                           csrf=session.csrf_token)
    return response.html(html, headers={"Cache-Control": "no-store"})


@bp.post("/desk/tickets/<public_id>/claim")
@page
async def claim_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    request.app.ctx.service.claim(public_id, session.agent)
    return response.redirect(f"/desk/tickets/{public_id}")


@bp.post("/desk/tickets/<public_id>/reply")
@page
async def reply_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    service = request.app.ctx.service
    service.reply(public_id, session.agent, form_value(request, "text"))
    request.app.add_task(request.app.ctx.desk.deliver(service.get(public_id).conversation_id))
    return response.redirect(f"/desk/tickets/{public_id}")


@bp.post("/desk/tickets/<public_id>/messages/<message_id:int>/retry")
@page
async def retry_reply_page(request: Request, session: ActiveSession, public_id: str, message_id: int) -> HTTPResponse:
    message = request.app.ctx.service.retry_delivery(public_id, message_id)
    request.app.add_task(request.app.ctx.desk.deliver(message.ticket.conversation_id))
    return response.redirect(f"/desk/tickets/{public_id}")


@bp.post("/desk/tickets/<public_id>/close")
@page
async def close_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    ticket = request.app.ctx.service.close(public_id, session.agent, form_value(request, "outcome"))
    request.app.add_task(request.app.ctx.desk.announce_close(ticket.conversation_id))
    return response.redirect(f"/desk/tickets/{public_id}")
