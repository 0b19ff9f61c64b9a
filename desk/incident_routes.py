"""Incident routes of the desk: the JSON API, the bot's calls, the widget banner and the pages.

Supervisors (and the automation token) open, update and resolve incidents;
agents can read them. The bot reports who saw a notice, who subscribed and
which ticket it deflected, and fetches/acknowledges the broadcasts it delivers.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.incidents import local
from desk.models import Agent
from desk.serialize import incident_detail, incident_summary, incident_update_json
from desk.service import DeskError

Handler = Callable[..., Awaitable[HTTPResponse]]
Decorator = Callable[[Handler], Handler]


def _require_supervisor(agent: Agent) -> None:
    if agent.role != "supervisor":
        raise DeskError(403, "only supervisors open, update or resolve incidents")


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


def register_incident_routes(app: Sanic, desk: Any, api: Decorator, page: Decorator, json_body: Callable[[Request], Dict[str, Any]],
                             render_for: Callable[..., HTTPResponse]) -> None:
    incidents = desk.incidents
    zone = desk.settings.timezone

    def detail(public_id: str) -> Dict[str, Any]:
        incident = incidents.get(public_id)
        return incident_detail(incident, incidents.counts(incident))

    def broadcast(request: Request) -> None:
        request.app.add_task(desk.broadcaster.run_round())

    # ----- JSON API -------------------------------------------------------
    @app.get("/api/incidents")
    @api
    async def list_incidents(request: Request, agent: Agent) -> HTTPResponse:
        status = request.args.get("status", "all")
        if status not in ("all", "active"):
            raise DeskError(400, "status is 'active' or 'all'")
        with_counts = request.args.get("counts", "true")
        if with_counts not in ("true", "false"):
            raise DeskError(400, "counts is 'true' or 'false'")
        found = incidents.list(include_resolved=status == "all")
        # The bot polls this every few seconds and never reads the counts (four queries per incident).
        return response.json({"incidents": [incident_summary(i, incidents.counts(i) if with_counts == "true" else None)
                                            for i in found]})

    @app.post("/api/incidents")
    @api
    async def create_incident(request: Request, agent: Agent) -> HTTPResponse:
        _require_supervisor(agent)
        incident = incidents.create(json_body(request), agent)
        return response.json(detail(incident.public_id), status=201)

    @app.get("/api/incidents/<public_id>")
    @api
    async def get_incident(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
        return response.json(detail(public_id))

    @app.post("/api/incidents/<public_id>/updates")
    @api
    async def update_incident(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
        _require_supervisor(agent)
        entry = incidents.post_update(public_id, json_body(request), agent)
        if entry.notified:
            broadcast(request)
        return response.json({"update": incident_update_json(entry), "incident": detail(public_id)}, status=201)

    @app.post("/api/incidents/<public_id>/resolve")
    @api
    async def resolve_incident(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
        _require_supervisor(agent)
        entry = incidents.resolve(public_id, json_body(request), agent)
        broadcast(request)
        return response.json({"update": incident_update_json(entry), "incident": detail(public_id)})

    @app.post("/api/incidents/<public_id>/retry-failed")
    @api
    async def retry_failed(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
        _require_supervisor(agent)
        count = incidents.retry_failed(public_id)
        broadcast(request)
        return response.json({"retrying": count})

    # ----- what the bot's actions call --------------------------------------
    @app.post("/api/incidents/<public_id>/contacts")
    @api
    async def incident_contact(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
        body = json_body(request)
        conversation_id = body.get("conversation_id")
        if not isinstance(conversation_id, str):
            raise DeskError(400, "'conversation_id' (a string) is required")
        flags = {name: body.get(name, False) for name in ("subscribe", "deflected")}
        if not all(isinstance(v, bool) for v in flags.values()):
            raise DeskError(400, "'subscribe' and 'deflected' are true or false")
        contact = incidents.record_contact(public_id, conversation_id, channel=str(body.get("channel") or "unknown"),
                                           language=str(body.get("language") or "zh"), **flags)
        return response.json({"incident": public_id, "conversation_id": contact.conversation_id,
                              "times_asked": contact.times_asked, "subscribed": contact.subscribed_at is not None,
                              "deflections": contact.deflections})

    @app.get("/api/conversations/<conversation_id>/incident-notices")
    @api
    async def incident_notices(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
        return response.json({"notices": incidents.pending_deliveries(conversation_id), "timezone": zone})

    @app.post("/api/conversations/<conversation_id>/incident-notices/ack")
    @api
    async def incident_notices_ack(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
        return response.json({"acknowledged": incidents.mark_delivered(conversation_id, _ids(json_body(request)))})

    # ----- the widget's banner (public: an announcement, no user data) ------
    @app.get("/widget/incidents")
    async def widget_incidents(request: Request) -> HTTPResponse:
        language = "en" if request.args.get("lang") == "en" else "zh"
        return response.json({"incidents": [
            {"id": i.public_id, "title": i.title, "status": i.status,
             "message": i.message_en if language == "en" else i.message_zh, "eta_local": local(i.eta, zone),
             "timezone": zone} for i in incidents.active()]}, headers={"Cache-Control": "no-store"})

    # ----- pages ------------------------------------------------------------
    @app.get("/desk/incidents")
    @page
    async def incidents_page(request: Request, session: Any) -> HTTPResponse:
        rows = [(i, incidents.counts(i)) for i in incidents.list()]
        return render_for(session, "incidents.html", rows=rows, timezone=zone, local=local,
                          error=request.args.get("error"))

    @app.post("/desk/incidents")
    @page
    async def create_incident_page(request: Request, session: Any) -> HTTPResponse:
        _require_supervisor(session.agent)
        incident = incidents.create(_form_incident(request), session.agent)
        return response.redirect(f"/desk/incidents/{incident.public_id}")

    @app.get("/desk/incidents/<public_id>")
    @page
    async def incident_page(request: Request, session: Any, public_id: str) -> HTTPResponse:
        incident = incidents.get(public_id)
        return render_for(session, "incident.html", incident=incident, counts=incidents.counts(incident),
                          deliveries=incidents.recent_deliveries(incident), timezone=zone, local=local,
                          statuses=("investigating", "identified", "monitoring"))

    @app.post("/desk/incidents/<public_id>/updates")
    @page
    async def update_incident_page(request: Request, session: Any, public_id: str) -> HTTPResponse:
        _require_supervisor(session.agent)
        entry = incidents.post_update(public_id, _form_incident(request), session.agent)
        if entry.notified:
            broadcast(request)
        return response.redirect(f"/desk/incidents/{public_id}")

    @app.post("/desk/incidents/<public_id>/resolve")
    @page
    async def resolve_incident_page(request: Request, session: Any, public_id: str) -> HTTPResponse:
        _require_supervisor(session.agent)
        incidents.resolve(public_id, _form_incident(request), session.agent)
        broadcast(request)
        return response.redirect(f"/desk/incidents/{public_id}")

    @app.post("/desk/incidents/<public_id>/retry-failed")
    @page
    async def retry_failed_page(request: Request, session: Any, public_id: str) -> HTTPResponse:
        _require_supervisor(session.agent)
        incidents.retry_failed(public_id)
        broadcast(request)
        return response.redirect(f"/desk/incidents/{public_id}")

