"""Agents' sign-in: the login form and its CSRF cookie, logging in and out, the language toggle."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.routes.common import (LANGUAGE_COOKIE, PRELOGIN_COOKIE, SESSION_COOKIE, cookie_language, expire_cookie,
                                find_session, form_value, page, set_cookie)
from desk.service import DeskError
from desk.sessions import ActiveSession

bp = Blueprint("auth")


@bp.get("/desk/login")
async def login_form(request: Request) -> HTTPResponse:
    token = secrets.token_urlsafe(24)
    page_response = request.app.ctx.desk.render("login.html", cookie_language(request), csrf=token, agent=None,
                                                failed=request.args.get("failed") == "1")
    set_cookie(request, page_response, PRELOGIN_COOKIE, token)
    return page_response


@bp.post("/desk/login")
async def login(request: Request) -> HTTPResponse:
    expected = request.cookies.get(PRELOGIN_COOKIE)
    presented = form_value(request, "csrf")
    if not expected or not presented or not hmac.compare_digest(expected.encode(), presented.encode()):
        raise DeskError(403, "the login form expired (CSRF check failed); reload and retry")
    username, address = form_value(request, "username")[:64], request.remote_addr or request.ip
    throttle = request.app.ctx.desk.login_throttle
    refusal = throttle.refusal(username, address)
    if refusal:
        raise DeskError(429, refusal)
    agent = request.app.ctx.service.authenticate(username, form_value(request, "password"))
    if agent is None:
        throttle.failed(username, address)
        return response.redirect("/desk/login?failed=1")
    throttle.succeeded(username)
    token = request.app.ctx.sessions.open(agent, cookie_language(request))
    redirect = response.redirect("/desk/")
    set_cookie(request, redirect, SESSION_COOKIE, token)
    expire_cookie(request, redirect, PRELOGIN_COOKIE)
    return redirect


@bp.post("/desk/language")
async def toggle_language(request: Request) -> HTTPResponse:
    session = find_session(request)
    if session is not None:
        if not session.csrf_ok(form_value(request, "csrf")):
            raise DeskError(403, "CSRF check failed; reload and retry")
        language = "en" if session.language == "zh" else "zh"
        request.app.ctx.sessions.set_language(session, language)
        # Back to the page the agent was on; only a path on this desk, never another site.
        back = urlsplit(request.headers.get("referer") or "").path
        target = back if back.startswith("/desk/") else "/desk/"
    else:
        language = "en" if request.cookies.get(LANGUAGE_COOKIE, "zh") == "zh" else "zh"
        target = "/desk/login"
    redirect = response.redirect(target)
    set_cookie(request, redirect, LANGUAGE_COOKIE, language)
    return redirect


@bp.post("/desk/logout")
@page
async def logout(request: Request, session: ActiveSession) -> HTTPResponse:
    request.app.ctx.sessions.close(session)
    redirect = response.redirect("/desk/login")
    expire_cookie(request, redirect, SESSION_COOKIE)
    return redirect
