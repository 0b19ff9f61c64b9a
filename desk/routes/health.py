"""``GET /health``: the database, and deliveries the bot has not confirmed yet."""

from __future__ import annotations

import logging

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)
bp = Blueprint("health")


@bp.get("/health")
async def health(request: Request) -> HTTPResponse:
    service = request.app.ctx.service
    try:
        service.ping()
    except Exception as error:  # noqa: BLE001 - reported, not hidden
        logger.error("desk database unavailable: %r", error)
        return response.json({"status": "degraded", "database": "unavailable"}, status=503)
    # Deliveries the bot has not confirmed yet: a growing number means Rasa is not taking them.
    return response.json({"status": "ok", "database": "ok",
                          "undelivered_agent_replies": len(service.conversations_awaiting_delivery()),
                          "incident_deliveries_due": len(request.app.ctx.incidents.conversations_due())})
