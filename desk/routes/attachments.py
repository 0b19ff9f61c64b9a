"""Attachments: the bot's channels hand the desk a file reference, agents open the file behind a warning.

``POST /api/conversations/{id}/attachments`` (the bot's token) takes a Telegram ``file_id``; the
desk fetches the file itself (``desk.attachments``). Files are served only to logged-in agents
(``/desk/attachments/{id}``) and agent tokens (``/api/attachments/{id}``), never cached, never
sniffed or run by the browser.
"""

from __future__ import annotations

from typing import Any, Dict

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.models import Agent, Attachment
from desk.routes.agents import after_escalation, after_user_message
from desk.routes.common import api, bot_api, json_body, page
from desk.serialize import iso, ticket_summary
from desk.service import DeskError
from desk.sessions import ActiveSession

bp = Blueprint("attachments")
INLINE = ("image/jpeg", "image/png", "image/webp")


def attachment_json(row: Attachment) -> Dict[str, Any]:
    return {"id": row.public_id, "kind": row.kind, "content_type": row.content_type, "size": row.size,
            "created_at": iso(row.created_at), "deleted": row.path is None}


def _file(row: Attachment, data: bytes) -> HTTPResponse:
    disposition = "inline" if row.content_type in INLINE else f'attachment; filename="{row.public_id}"'
    return response.raw(data, content_type=row.content_type, headers={
        "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox", "X-Frame-Options": "DENY"})


@bp.post("/api/conversations/<conversation_id>/attachments")
@bot_api
async def add_attachment(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
    body = json_body(request)
    file_id, kind = body.get("file_id"), body.get("kind")
    if not isinstance(file_id, str) or not 1 <= len(file_id) <= 256 or not isinstance(kind, str):
        raise DeskError(400, "'file_id' (a Telegram file id) and 'kind' (photo or document) are required")
    store = request.app.ctx.desk.attachments
    data = await store.telegram.fetch(file_id)
    ticket, row, escalation = store.attach(conversation_id, kind, data, channel=str(body.get("channel") or "telegram"),
                                        language=str(body.get("language") or "zh"))
    if escalation is not None:
        after_escalation(request, escalation)
    else:
        after_user_message(request, ticket)
    return response.json({"ticket": ticket_summary(ticket), "created": escalation is not None, "attachment": attachment_json(row)},
                         status=201)


@bp.get("/api/tickets/<public_id>/attachments")
@api
async def list_attachments(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    ticket = request.app.ctx.service.get(public_id)
    return response.json({"attachments": [attachment_json(a) for a in request.app.ctx.desk.attachments.of_ticket(ticket.id)]})


@bp.get("/api/attachments/<attachment_id>")
@api
async def attachment_api(request: Request, agent: Agent, attachment_id: str) -> HTTPResponse:
    return _file(*request.app.ctx.desk.attachments.read(attachment_id))


@bp.get("/desk/attachments/<attachment_id>")
@page
async def attachment_page(request: Request, session: ActiveSession, attachment_id: str) -> HTTPResponse:
    return _file(*request.app.ctx.desk.attachments.read(attachment_id))
