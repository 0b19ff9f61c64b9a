"""Incidents: the JSON API, what the bot's actions call, and the supervisors' pages.

Supervisors (and the automation token) open, update and resolve incidents;
agents can read them. The bot reports who saw a notice, who subscribed and
which ticket it deflected, and fetches/acknowledges the broadcasts it delivers.
The widget's banner is in ``desk.routes.widget``.
"""

from __future__ import annotations

from typing import Any, Dict

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.incidents import local
from desk.models import Agent
from desk.routes.common import api, bot_api, json_body, page, render_for, require_supervisor
from desk.serialize import incident_detail, incident_summary, incident_update_json
from desk.service import DeskError
from desk.sessions import ActiveSession

bp = Blueprint("incidents")
SUPERVISORS_ONLY = "only supervisors open, update or resolve incidents"


def _ids(body: Dict[str, Any]) -> list:
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise DeskError(400, "'ids' must be a list of delivery ids")
    return ids


def _form_incident(request: Request) -> Dict[str, Any]:
    """A page form as the JSON API's body (checkbox 'notify', empty fields left out)."""
    form = request.form or {}
    body: Dict[str, Any] = {}
    for name in ("title", "message_zh", "message_en", "intents", "chains", "status", "eta"):
        values = form.getlist(name) if form else None
        if values and values[0].strip():
            body[name] = values[0]
    if form and form.getlist("notify"):
        body["notify"] = True
    return body


def _detail(request: Request, public_id: str) -> Dict[str, Any]:
    incidents = request.app.ctx.incidents
    incident = incidents.get(public_id)
    return incident_detail(incident, incidents.counts(incident))


def _broadcast(request: Request) -> None:
    request.app.add_task(request.app.ctx.desk.broadcaster.run_round())


def _back_to_incident(request: Request, public_id: str, broadcast: bool = True) -> HTTPResponse:
    """After a page's change: send what it notified (if anything), then show the incident again."""
    if broadcast:
        _broadcast(request)
    return response.redirect(f"/desk/incidents/{public_id}")


# ----- JSON API -------------------------------------------------------------
@bp.get("/api/incidents")
@bot_api
async def list_incidents(request: Request, agent: Agent) -> HTTPResponse:
    status = request.args.get("status", "all")
    if status not in ("all", "active"):
        raise DeskError(400, "status is 'active' or 'all'")
    with_counts = request.args.get("counts", "true")
    if with_counts not in ("true", "false"):
        raise DeskError(400, "counts is 'true' or 'false'")
    incidents = request.app.ctx.incidents
    found = incidents.list(include_resolved=status == "all")
    # The bot polls this every few seconds and never reads the counts (four queries per incident).
    return response.json({"incidents": [incident_summary(i, incidents.counts(i) if with_counts == "true" else None)
                                        for i in found]})


@bp.post("/api/incidents")
@api
async def create_incident(request: Request, agent: Agent) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    incident = request.app.ctx.incidents.create(json_body(request), agent)
    return response.json(_detail(request, incident.public_id), status=201)


@bp.get("/api/incidents/<public_id>")
@bot_api
async def get_incident(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    return response.json(_detail(request, public_id))


@bp.post("/api/incidents/<public_id>/updates")
@api
async def update_incident(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    entry = request.app.ctx.incidents.post_update(public_id, json_body(request), agent)
    if entry.notified:
        _broadcast(request)
    return response.json({"update": incident_update_json(entry), "incident": _detail(request, public_id)}, status=201)


@bp.post("/api/incidents/<public_id>/resolve")
@api
async def resolve_incident(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    entry = request.app.ctx.incidents.resolve(public_id, json_body(request), agent)
    _broadcast(request)
    return response.json({"update": incident_update_json(entry), "incident": _detail(request, public_id)})


@bp.post("/api/incidents/<public_id>/retry-failed")
@api
async def retry_failed(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    count = request.app.ctx.incidents.retry_failed(public_id)
    _broadcast(request)
    return response.json({"retrying": count})


# ----- what the bot's actions call --------------------------------------------
@bp.post("/api/incidents/<public_id>/contacts")
@bot_api
async def incident_contact(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
    body = json_body(request)
    conversation_id = body.get("conversation_id")
    if not isinstance(conversation_id, str):
        raise DeskError(400, "'conversation_id' (a string) is required")
    flags = {name: body.get(name, False) for name in ("subscribe", "deflected")}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise DeskError(400, "'subscribe' and 'deflected' are true or false")
    contact = request.app.ctx.incidents.record_contact(
        public_id, conversation_id, channel=str(body.get("channel") or "unknown"),
        language=str(body.get("language") or "zh"), **flags)
    return response.json({"incident": public_id, "conversation_id": contact.conversation_id,
                          "times_asked": contact.times_asked, "subscribed": contact.subscribed_at is not None,
                          "deflections": contact.deflections})


@bp.get("/api/conversations/<conversation_id>/incident-notices")
@bot_api
async def incident_notices(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
    return response.json({"notices": request.app.ctx.incidents.pending_deliveries(conversation_id),
                          "timezone": request.app.ctx.settings.timezone})


@bp.post("/api/conversations/<conversation_id>/incident-notices/ack")
@bot_api
async def incident_notices_ack(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
    acknowledged = request.app.ctx.incidents.mark_delivered(conversation_id, _ids(json_body(request)))
    return response.json({"acknowledged": acknowledged})


# ----- pages ----------------------------------------------------------------
@bp.get("/desk/incidents")
@page
async def incidents_page(request: Request, session: ActiveSession) -> HTTPResponse:
    incidents = request.app.ctx.incidents
    rows = [(i, incidents.counts(i)) for i in incidents.list()]
    return render_for(request, session, "incidents.html", rows=rows, timezone=request.app.ctx.settings.timezone,
                      local=local, error=request.args.get("error"))


@bp.post("/desk/incidents")
@page
async def create_incident_page(request: Request, session: ActiveSession) -> HTTPResponse:
    require_supervisor(session.agent, SUPERVISORS_ONLY)
    incident = request.app.ctx.incidents.create(_form_incident(request), session.agent)
    return response.redirect(f"/desk/incidents/{incident.public_id}")


@bp.get("/desk/incidents/<public_id>")
@page
async def incident_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    incidents = request.app.ctx.incidents
    incident = incidents.get(public_id)
    return render_for(request, session, "incident.html", incident=incident, counts=incidents.counts(incident),
                      deliveries=incidents.recent_deliveries(incident), timezone=request.app.ctx.settings.timezone,
                      local=local, statuses=("investigating", "identified", "monitoring"))


@bp.post("/desk/incidents/<public_id>/updates")
@page
async def update_incident_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    require_supervisor(session.agent, SUPERVISORS_ONLY)
    entry = request.app.ctx.incidents.post_update(public_id, _form_incident(request), session.agent)
    return _back_to_incident(request, public_id, broadcast=entry.notified)


@bp.post("/desk/incidents/<public_id>/resolve")
@page
async def resolve_incident_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    require_supervisor(session.agent, SUPERVISORS_ONLY)
    request.app.ctx.incidents.resolve(public_id, _form_incident(request), session.agent)
    return _back_to_incident(request, public_id)


@bp.post("/desk/incidents/<public_id>/retry-failed")
@page
async def retry_failed_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
    require_supervisor(session.agent, SUPERVISORS_ONLY)
    request.app.ctx.incidents.retry_failed(public_id)
    return _back_to_incident(request, public_id)
