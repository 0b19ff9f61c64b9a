"""Agents at work: presence, private notes, transfer, hand back to the bot, and the page's notifications.

JSON API (bearer token) and the same actions for the pages (session + CSRF). What happens after an
assignment or a transfer (notices for the agent's browser) is in :func:`notify_assignment`, which the
escalation routes call too.
"""

from __future__ import annotations

import logging
from typing import Iterable, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.assignment import Assignment
from desk.models import Agent, Ticket
from desk.notifications import notice_json
from desk.rasa_client import TICKET_CLOSED_INTENT, RasaUnavailable
from desk.routes.common import UI_TEXT, api, form_value, json_body, json_string, page
from desk.serialize import iso, message_json, ticket_detail
from desk.service import DeskError, Escalation
from desk.sessions import ActiveSession

logger = logging.getLogger(__name__)
bp = Blueprint("agents")
HANDBACK_ENTITY = "desk_handback"


def agent_json(agent: Agent) -> dict:
    return {"username": agent.username, "display_name": agent.display_name, "role": agent.role,
            "status": agent.status, "status_at": iso(agent.status_at),
            "languages": (agent.languages or "").split(",")}


# ----- what other routes call ---------------------------------------------------
def notify_assignment(request: Request, moved: Iterable[Optional[Assignment]], kind: str = "assigned") -> None:
    for item in moved:
        if item is not None:
            request.app.ctx.desk.notices.post(kind, item.public_id, item.priority, agent_ids=frozenset({item.agent_id}))


def after_escalation(request: Request, result: Escalation) -> None:
    """A new, merged or re-opened ticket: notify its agent (P1: every online agent), check capacity."""
    desk = request.app.ctx.desk
    notify_assignment(request, [result.assignment])
    if result.ticket.priority == "P1" and (result.created or result.reopened):
        desk.notices.post("p1", result.ticket.public_id, "P1")
    desk.capacity.check_soon()


def after_user_message(request: Request, ticket: Ticket) -> None:
    """A user wrote on a ticket during the handoff: its agent hears it."""
    if ticket.assignee_id:
        request.app.ctx.desk.notices.post("user_message", ticket.public_id, ticket.priority,
                                          agent_ids=frozenset({ticket.assignee_id}))


async def tell_bot_handed_back(request: Request, conversation_id: str) -> None:
    """The bot tells the user it is back (in their language) and answers their next message."""
    desk = request.app.ctx.desk
    await desk.deliver(conversation_id)  # the agent's last replies first
    try:
        await desk.rasa.trigger(conversation_id, TICKET_CLOSED_INTENT, [{"entity": HANDBACK_ENTITY, "value": True}])
    except RasaUnavailable as error:
        logger.warning("could not tell %s that the bot is back: %s", conversation_id, error)


# ----- JSON API -------------------------------------------------------------------
@bp.get("/api/agents")
@api
async def list_agents(request: Request, agent: Agent) -> HTTPResponse:
    return response.json({"agents": [agent_json(a) for a in request.app.ctx.desk.handling.agents()]})


@bp.put("/api/agents/me/status")
@api
async def set_my_status(request: Request, agent: Agent) -> HTTPResponse:
    body = json_body(request)
    status = body.get("status")
    if not isinstance(status, str):
        raise DeskError(400, "'status' (online, busy or offline) is required")
    row, moved = request.app.ctx.desk.handling.set_presence(agent, status, body.get("languages"))
    notify_assignment(request, moved)
    request.app.add_task(request.app.ctx.desk.capacity.check())
    return response.json(agent_json(row))


@bp.post("/api/tickets/<public_id>/notes")
@api
async def add_note(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    text = json_string(request, "text")
    return response.json(message_json(request.app.ctx.desk.handling.add_note(public_id, agent, text)), status=201)


@bp.post("/api/tickets/<public_id>/assign")
@api
async def assign_ticket(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    target = json_string(request, "agent", "a username")
    moved = request.app.ctx.desk.handling.transfer(public_id, agent, target)
    notify_assignment(request, [moved], "transferred")
    return response.json(ticket_detail(request.app.ctx.service.get(public_id)))


@bp.post("/api/tickets/<public_id>/handback")
@api
async def hand_back(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    ticket = request.app.ctx.desk.handling.hand_back(public_id, agent)
    request.app.add_task(tell_bot_handed_back(request, ticket.conversation_id))
    return response.json(ticket_detail(request.app.ctx.service.get(public_id)))


# ----- pages ------------------------------------------------------------------------
@bp.post("/desk/status")
@page
async def status_page(request: Request, session: ActiveSession) -> HTTPResponse:
    _row, moved = request.app.ctx.desk.handling.set_presence(session.agent, form_value(request, "status"))
    notify_assignment(request, moved)
    request.app.add_task(request.app.ctx.desk.capacity.check())
    back = request.headers.get("referer") or "/desk/"
    return response.redirect(back if back.startswith(request.app.ctx.settings.url) or back.startswith("/") else "/desk/")


@bp.get("/desk/notifications")
@page
async def notifications(request: Request, session: ActiveSession) -> HTTPResponse:
    """New notices for this agent since ``after`` (the page polls; ``after`` missing: only the latest id)."""
    notices = request.app.ctx.desk.notices
    after = request.args.get("after")
    if after is None or not after.isdigit():
        return response.json({"last": notices.last_id, "notices": []})
    agent = request.app.ctx.service.agent(session.agent.id)
    found = notices.for_agent(agent, int(after))
    return response.json({"last": notices.last_id,
                          "notices": [notice_json(n, UI_TEXT[session.language]) for n in found]},
                         headers={"Cache-Control": "no-store"})


@bp.post("/desk/tickets/<public_id>/notes")
@page
async def note_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    request.app.ctx.desk.handling.add_note(public_id, session.agent, form_value(request, "text"))
    return response.redirect(f"/desk/tickets/{public_id}")


@bp.post("/desk/tickets/<public_id>/assign")
@page
async def assign_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    moved = request.app.ctx.desk.handling.transfer(public_id, session.agent, form_value(request, "agent"))
    notify_assignment(request, [moved], "transferred")
    return response.redirect(f"/desk/tickets/{public_id}")


@bp.post("/desk/tickets/<public_id>/handback")
@page
async def handback_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    ticket = request.app.ctx.desk.handling.hand_back(public_id, session.agent)
    request.app.add_task(tell_bot_handed_back(request, ticket.conversation_id))
    return response.redirect(f"/desk/tickets/{public_id}")
