"""The desk's error answers (app-wide: they also cover routes that do not exist).

A DeskError on a page is an error page in the agent's language; everything else
is JSON ``{"error": ...}`` with the status code.
"""

from __future__ import annotations

import logging

from sanic import Sanic, response
from sanic.exceptions import NotFound, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.routes.common import UI_TEXT, cookie_language, find_session
from desk.service import DeskError

logger = logging.getLogger(__name__)


async def desk_error(request: Request, error: DeskError) -> HTTPResponse:
    if request.path.startswith("/desk"):
        session = find_session(request)
        language = session.language if session else cookie_language(request)
        return request.app.ctx.desk.render(
            "error.html", language if language in UI_TEXT else "zh", status=error.status, reason=error.reason,
            agent=session.agent if session else None, csrf=session.csrf_token if session else "")
    return response.json({"error": error.reason}, status=error.status)


async def not_found(request: Request, error: Exception) -> HTTPResponse:
    return response.json({"error": f"no such route: {request.method} {request.path}"}, status=404)


async def sanic_error(request: Request, error: SanicException) -> HTTPResponse:
    return response.json({"error": str(error) or "bad request"}, status=getattr(error, "status_code", 400))


async def unexpected(request: Request, error: Exception) -> HTTPResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return response.json({"error": "internal error; it has been logged"}, status=500)


def register_error_handlers(app: Sanic) -> None:
    for exception, handler in ((DeskError, desk_error), (NotFound, not_found), (SanicException, sanic_error),
                               (Exception, unexpected)):
        app.exception(exception)(handler)
