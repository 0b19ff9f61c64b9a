"""Canned replies: ``GET/POST/PUT/DELETE /api/canned`` (changes: supervisors), and the list for the reply box."""

from __future__ import annotations

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.canned import canned_json
from desk.models import Agent
from desk.routes.common import api, json_body, page, require_supervisor
from desk.sessions import ActiveSession

bp = Blueprint("canned")
SUPERVISORS_ONLY = "only supervisors manage canned replies"


@bp.get("/api/canned")
@api
async def list_canned(request: Request, agent: Agent) -> HTTPResponse:
    return response.json({"canned": request.app.ctx.desk.canned.visible(agent)})


@bp.post("/api/canned")
@api
async def create_canned(request: Request, agent: Agent) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    return response.json(canned_json(request.app.ctx.desk.canned.create(agent, json_body(request))), status=201)


@bp.put("/api/canned/<code>")
@api
async def update_canned(request: Request, agent: Agent, code: str) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    return response.json(canned_json(request.app.ctx.desk.canned.update(code, json_body(request))))


@bp.delete("/api/canned/<code>")
@api
async def delete_canned(request: Request, agent: Agent, code: str) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    request.app.ctx.desk.canned.delete(code)
    return response.empty()


@bp.get("/desk/canned.json")
@page
async def canned_for_page(request: Request, session: ActiveSession) -> HTTPResponse:
    """What the reply box expands (``/code``): this agent's visible list and the curated answers."""
    return response.json({"canned": request.app.ctx.desk.canned.visible(session.agent)},
                         headers={"Cache-Control": "no-store"})
