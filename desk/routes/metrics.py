"""Metrics and shifts: the JSON API and the supervisors' dashboard."""

from __future__ import annotations

from typing import Any, Dict

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.models import Agent
from desk.routes.common import api, json_body, page, render_for, require_supervisor
from desk.service import DeskError
from desk.sessions import ActiveSession

bp = Blueprint("metrics")
SHIFTS_ARE_FOR_SUPERVISORS = "only supervisors change shifts"


def _shift_plan(request: Request) -> Dict[str, Any]:
    return {"timezone": request.app.ctx.settings.timezone, "shifts": request.app.ctx.service.shifts()}


@bp.get("/api/metrics")
@api
async def metrics(request: Request, agent: Agent) -> HTTPResponse:
    return response.json(request.app.ctx.service.metrics())


@bp.get("/api/shifts")
@api
async def get_shifts(request: Request, agent: Agent) -> HTTPResponse:
    return response.json(_shift_plan(request))


@bp.put("/api/shifts")
@api
async def put_shifts(request: Request, agent: Agent) -> HTTPResponse:
    require_supervisor(agent, SHIFTS_ARE_FOR_SUPERVISORS)
    shifts = json_body(request).get("shifts")
    if not isinstance(shifts, list) or not all(isinstance(s, dict) for s in shifts):
        raise DeskError(400, "'shifts' must be a list of {weekdays, start, end, agents}")
    request.app.ctx.service.set_shifts(shifts)
    return response.json(_shift_plan(request))


@bp.get("/desk/dashboard")
@page
async def dashboard(request: Request, session: ActiveSession) -> HTTPResponse:
    require_supervisor(session.agent, "the dashboard is for supervisors")
    service = request.app.ctx.service
    return render_for(request, session, "dashboard.html", metrics=service.metrics(), shifts=service.shifts(),
                      timezone=request.app.ctx.settings.timezone, error=request.args.get("error"))


@bp.post("/desk/shifts")
@page
async def save_shifts(request: Request, session: ActiveSession) -> HTTPResponse:
    require_supervisor(session.agent, SHIFTS_ARE_FOR_SUPERVISORS)
    form = request.form
    rows = zip(form.getlist("weekdays", []), form.getlist("start", []), form.getlist("end", []), form.getlist("agents", []))
    shifts = [{"weekdays": [d for d in w.replace(" ", "").split(",") if d], "start": s, "end": e, "agents": a or "1"}
              for w, s, e, a in rows if s.strip() or e.strip()]
    request.app.ctx.service.set_shifts(shifts)
    return response.redirect("/desk/dashboard")
