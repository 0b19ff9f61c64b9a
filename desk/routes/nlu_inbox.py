"""The NLU inbox: its JSON API and the reviewers' page (agents and supervisors)."""

from __future__ import annotations

from typing import Dict
from urllib.parse import urlencode

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.models import DISCARD_REASONS, INBOX_REASONS, Agent
from desk.nlu_inbox import InboxFilter, NluInbox, domain_vocabulary
from desk.routes.common import api, form_value, json_body, page, render_for
from desk.service import DeskError
from desk.sessions import ActiveSession

bp = Blueprint("nlu_inbox")
FILTER_FIELDS = ("status", "reason", "intent", "min_confidence", "max_confidence", "channel", "since", "until",
                 "language", "grouped")


def _inbox(request: Request) -> NluInbox:
    return request.app.ctx.desk.nlu_inbox


def _args(request: Request) -> Dict[str, str]:
    return {name: request.args.get(name, "") for name in FILTER_FIELDS + ("limit",)}


def _item_id(raw: str) -> int:
    if not raw.isdigit():
        raise DeskError(404, f"no inbox item {raw}")
    return int(raw)


@bp.get("/api/nlu/inbox")
@api
async def list_items(request: Request, agent: Agent) -> HTTPResponse:
    return response.json({"items": _inbox(request).list(InboxFilter.from_args(_args(request)))})


@bp.get("/api/nlu/inbox/<item_id>")
@api
async def get_item(request: Request, agent: Agent, item_id: str) -> HTTPResponse:
    return response.json({"item": _inbox(request).get(_item_id(item_id))})


@bp.post("/api/nlu/inbox/<item_id>/label")
@api
async def label_item(request: Request, agent: Agent, item_id: str) -> HTTPResponse:
    labelled = _inbox(request).label(_item_id(item_id), json_body(request), agent)
    return response.json({"item": labelled[0], "labelled": len(labelled)})


@bp.post("/api/nlu/inbox/<item_id>/discard")
@api
async def discard_item(request: Request, agent: Agent, item_id: str) -> HTTPResponse:
    discarded = _inbox(request).discard(_item_id(item_id), json_body(request), agent)
    return response.json({"item": discarded[0], "discarded": len(discarded)})


@bp.post("/api/nlu/inbox/flag")
@api
async def flag_message(request: Request, agent: Agent) -> HTTPResponse:
    """``{"ticket_id": "T-…", "message_id": 12}``: a user's message on a ticket, sent to the inbox."""
    body = json_body(request)
    ticket, message = body.get("ticket_id"), body.get("message_id")
    if not isinstance(ticket, str) or not isinstance(message, int):
        raise DeskError(400, "'ticket_id' (string) and 'message_id' (number) are required")
    item = _inbox(request).flag_ticket_message(ticket, message, agent)
    return response.json({"item": _inbox(request).get(item.id)}, status=201)


# ----- pages ---------------------------------------------------------------------
@bp.get("/desk/nlu")
@page
async def inbox_page(request: Request, session: ActiveSession) -> HTTPResponse:
    args = _args(request)
    args["grouped"] = args["grouped"] or "true"
    flt = InboxFilter.from_args(args)
    items = _inbox(request).list(flt)
    return render_for(request, session, "nlu_inbox.html", items=items, filters=args, reasons=INBOX_REASONS,
                      discard_reasons=DISCARD_REASONS, intents=domain_vocabulary()["intents"],
                      counts=_inbox(request).counts(), error=request.args.get("error"))


def _back(request: Request) -> HTTPResponse:
    query = form_value(request, "back")
    return response.redirect("/desk/nlu" + (("?" + query) if query and "//" not in query else ""))


@bp.post("/desk/nlu/<item_id>/label")
@page
async def label_from_page(request: Request, session: ActiveSession, item_id: str) -> HTTPResponse:
    entities = []
    name, value = form_value(request, "entity"), form_value(request, "entity_value").strip()
    if name and value:
        entities.append({"entity": name, "value": value})
    try:
        _inbox(request).label(_item_id(item_id), {"intent": form_value(request, "intent"), "entities": entities},
                              session.agent)
    except DeskError as error:
        return response.redirect("/desk/nlu?" + urlencode({"error": error.reason}))
    return _back(request)


@bp.post("/desk/nlu/<item_id>/discard")
@page
async def discard_from_page(request: Request, session: ActiveSession, item_id: str) -> HTTPResponse:
    try:
        _inbox(request).discard(_item_id(item_id), {"reason": form_value(request, "reason")}, session.agent)
    except DeskError as error:
        return response.redirect("/desk/nlu?" + urlencode({"error": error.reason}))
    return _back(request)


@bp.post("/desk/tickets/<public_id>/messages/<message_id>/flag")
@page
async def flag_from_ticket(request: Request, session: ActiveSession, public_id: str, message_id: str) -> HTTPResponse:
    if not message_id.isdigit():
        raise DeskError(404, f"no message {message_id}")
    _inbox(request).flag_ticket_message(public_id, int(message_id), session.agent)
    return response.redirect(f"/desk/tickets/{public_id}")


@bp.get("/desk/conversations/<conversation_id>")
@page
async def conversation_page(request: Request, session: ActiveSession, conversation_id: str) -> HTTPResponse:
    """One conversation's transcript (redacted), where an inbox item links to."""
    from desk.rasa_client import RasaUnavailable
    from desk.service import store_text

    try:
        transcript = await request.app.ctx.rasa.transcript(conversation_id)
        transcript = [{**line, "text": store_text(line["text"])} for line in transcript]
    except RasaUnavailable:
        transcript = None
    return render_for(request, session, "conversation.html", conversation_id=conversation_id, transcript=transcript)
