"""Supervisors' account controls over the JSON API: list and revoke tokens, deactivate agents (also in the CLI)."""

from __future__ import annotations

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.models import Agent
from desk.routes.common import api, require_supervisor

bp = Blueprint("admin")
SUPERVISORS_ONLY = "only supervisors manage accounts and tokens"


@bp.get("/api/tokens")
@api
async def list_tokens(request: Request, agent: Agent) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    return response.json({"tokens": request.app.ctx.service.api_tokens()})


@bp.post("/api/tokens/<name_or_id>/revoke")
@api
async def revoke_token(request: Request, agent: Agent, name_or_id: str) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    return response.json({"revoked": request.app.ctx.service.revoke_token(name_or_id)})


@bp.post("/api/agents/<username>/deactivate")
@api
async def deactivate_agent(request: Request, agent: Agent, username: str) -> HTTPResponse:
    require_supervisor(agent, SUPERVISORS_ONLY)
    deactivated = request.app.ctx.service.deactivate_agent(username)
    return response.json({"agent": deactivated.username, "active": False})
