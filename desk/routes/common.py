"""What every route module shares: cookies, the UI texts, request parsing and the two guards.

``api`` lets a handler run only for a valid bearer token and passes the token's
agent; ``page`` only for a logged-in agent (and checks the CSRF token of every
POST) and passes the session. Both read the desk from ``request.app.ctx``.
"""

from __future__ import annotations

import json
from functools import wraps
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

import yaml
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.models import Agent
from desk.service import DeskError
from desk.sessions import ActiveSession

Handler = Callable[..., Awaitable[HTTPResponse]]

DESK_ROOT = Path(__file__).resolve().parent.parent
SESSION_COOKIE = "desk_session"
PRELOGIN_COOKIE = "desk_prelogin"
LANGUAGE_COOKIE = "desk_lang"
UI_TEXT: Dict[str, Dict[str, str]] = yaml.safe_load((DESK_ROOT / "ui_text.yml").read_text(encoding="utf-8"))


def bearer(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def json_body(request: Request) -> Dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise DeskError(400, "the body is not valid JSON")
    if not isinstance(body, dict):
        raise DeskError(400, "the body must be a JSON object")
    return body


def json_string(request: Request, key: str, what: str = "a string") -> str:
    """``key`` of the JSON body, which must be a string; a 400 that names it otherwise."""
    value = json_body(request).get(key)
    if not isinstance(value, str):
        raise DeskError(400, f"'{key}' ({what}) is required")
    return value


def form_value(request: Request, name: str) -> str:
    values = request.form.getlist(name) if request.form else None
    return values[0] if values else ""


def set_cookie(request: Request, answer: HTTPResponse, name: str, value: str, max_age: Optional[int] = None) -> None:
    """Desk cookies: only for /desk, never sent cross-site, unreadable by page scripts; Secure behind HTTPS."""
    answer.cookies[name] = value
    for key, setting in (("httponly", True), ("samesite", "Strict"), ("path", "/desk")):
        answer.cookies[name][key] = setting
    if request.app.ctx.settings.secure_cookies:
        answer.cookies[name]["secure"] = True
    if max_age is not None:
        answer.cookies[name]["max-age"] = max_age


def expire_cookie(request: Request, answer: HTTPResponse, name: str) -> None:
    """Remove a desk cookie (same path and flags as when it was set, or the browser keeps it)."""
    set_cookie(request, answer, name, "", max_age=0)


def cookie_language(request: Request) -> str:
    """The language the language cookie asks for (Chinese unless it names a known one)."""
    language = request.cookies.get(LANGUAGE_COOKIE, "zh")
    return language if language in UI_TEXT else "zh"


def find_session(request: Request) -> Optional[ActiveSession]:
    return request.app.ctx.sessions.find(request.cookies.get(SESSION_COOKIE))


def require_supervisor(agent: Agent, reason: str) -> None:
    if agent.role != "supervisor":
        raise DeskError(403, reason)


BOT_TOKEN_REFUSED = ("DESK_API_TOKEN is the bot's token and only reaches the bot's own endpoints; "
                     "use a token from `python -m desk create-token`")


def _guarded(handler: Handler, bot_allowed: bool) -> Handler:
    @wraps(handler)
    async def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        token = bearer(request)
        agent = request.app.ctx.service.api_identity(token)
        if agent is None:
            return response.json({"error": "missing or invalid bearer token"}, status=401,
                                 headers={"WWW-Authenticate": "Bearer"})
        if not bot_allowed and request.app.ctx.service.is_bot_token(token):
            raise DeskError(403, BOT_TOKEN_REFUSED)
        return await handler(request, agent, *args, **kwargs)
    return wrapped


def api(handler: Handler) -> Handler:
    """JSON API for agents and ops tokens: a valid bearer token, else 401 (the bot's token: 403).

    The handler gets the token's agent.
    """
    return _guarded(handler, bot_allowed=False)


def bot_api(handler: Handler) -> Handler:
    """What the bot's actions call (deskapi.client): any valid bearer token, DESK_API_TOKEN included."""
    return _guarded(handler, bot_allowed=True)


def page(handler: Handler) -> Handler:
    """Logged-in agents only; every POST must carry the session's CSRF token."""
    @wraps(handler)
    async def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        session = find_session(request)
        if session is None:
            return response.redirect("/desk/login")
        if request.method == "POST" and not session.csrf_ok(form_value(request, "csrf")):
            raise DeskError(403, "the form expired or did not come from this desk (CSRF check failed); reload and retry")
        return await handler(request, session, *args, **kwargs)
    return wrapped


def render_for(request: Request, session: ActiveSession, template: str, **context: Any) -> HTTPResponse:
    """A desk page for the session's agent, in the session's language."""
    return request.app.ctx.desk.render(template, session.language, agent=session.agent, csrf=session.csrf_token, **context)
