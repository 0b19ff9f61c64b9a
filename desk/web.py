"""The desk's HTTP server (Sanic, which ships with Rasa): JSON API, agent pages, delivery loop.

``/api/...`` takes ``Authorization: Bearer <token>`` (DESK_API_TOKEN or a token
from ``python -m desk create-token``); ``/desk/...`` are the agents' pages with
a session cookie and a CSRF token on every form. The README lists the API.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Set
from urllib.parse import urlsplit

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic, response
from sanic.exceptions import NotFound, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from desk.broadcast import IncidentBroadcaster
from desk.incident_routes import register_incident_routes
from desk.incidents import IncidentService
from desk.models import Agent
from desk.oncall import OnCallAlerts
from desk.rasa_client import AGENT_REPLY_INTENT, TICKET_CLOSED_INTENT, RasaClient, RasaUnavailable
from desk.serialize import eta_json, message_json, ticket_detail, ticket_summary
from desk.schedule import utcnow
from desk.service import DeskError, DeskService, store_text
from desk.sessions import ActiveSession, WebSessions
from wallet_support.widget_sessions import SessionSigner
from wallet_support.settings import DeskSettings, SocketIOSettings

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
WIDGET_ROOT = HERE.parent / "widget"
SESSION_COOKIE = "desk_session"
PRELOGIN_COOKIE = "desk_prelogin"
LANGUAGE_COOKIE = "desk_lang"
MAX_DELIVERY_ATTEMPTS = 30
UI_TEXT: Dict[str, Dict[str, str]] = yaml.safe_load((HERE / "ui_text.yml").read_text(encoding="utf-8"))


class Desk:
    """Everything the routes share; built once per process."""

    def __init__(self, settings: DeskSettings, service: DeskService, rasa: RasaClient, alerts: OnCallAlerts,
                 socketio: Optional[SocketIOSettings] = None) -> None:
        socketio = socketio or SocketIOSettings()
        self.socket_public_url = socketio.public_url
        self.session_signer = SessionSigner(socketio.session_secret)
        self.settings = settings
        self.service = service
        self.rasa = rasa
        self.alerts = alerts
        self.sessions = WebSessions(service.db)
        self.templates = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]))
        self._delivering: Set[str] = set()
        self.incidents = IncidentService(service.db, settings.timezone)
        self.broadcaster = IncidentBroadcaster(self.incidents, rasa)

    # ----- delivery of agent replies and ticket events --------------------
    async def deliver(self, conversation_id: str) -> None:
        """Ask Rasa to pass the conversation's pending agent replies to the user's channel."""
        if conversation_id in self._delivering:
            return
        self._delivering.add(conversation_id)
        try:
            await self.rasa.trigger(conversation_id, AGENT_REPLY_INTENT)
        except RasaUnavailable as error:
            logger.warning("agent reply for %s not delivered yet: %s", conversation_id, error)
            self.service.note_delivery_failure(conversation_id, str(error))
        finally:
            self._delivering.discard(conversation_id)
        # The bot's action acknowledges what it delivered; anything left is retried.
        if self.service.pending_replies(conversation_id):
            self.service.note_delivery_failure(conversation_id, "not acknowledged by the bot")

    async def delivery_loop(self) -> None:
        """Retry undelivered agent replies until Rasa takes them (or attempts run out)."""
        while True:
            await asyncio.sleep(self.settings.delivery_retry_seconds)
            try:
                for conversation_id in self.service.conversations_awaiting_delivery():
                    pending = self.service.pending_replies(conversation_id)
                    if pending and max(m.delivery_attempts for m in pending) < MAX_DELIVERY_ATTEMPTS:
                        await self.deliver(conversation_id)
            except Exception:  # the loop must outlive one bad round (e.g. the database restarting)
                logger.exception("delivery retry round failed")

    async def announce_close(self, conversation_id: str) -> None:
        try:
            await self.rasa.trigger(conversation_id, TICKET_CLOSED_INTENT)
        except RasaUnavailable as error:
            logger.warning("could not tell %s that the ticket closed: %s", conversation_id, error)

    # ----- pages ----------------------------------------------------------
    def render(self, template: str, language: str, status: int = 200, **context: Any) -> HTTPResponse:
        html = self.templates.get_template(template).render(t=UI_TEXT[language], lang=language, **context)
        return response.html(html, status=status, headers={"X-Frame-Options": "DENY", "Cache-Control": "no-store",
                                                            "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'"})


def _bearer(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _json_body(request: Request) -> Dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise DeskError(400, "the body is not valid JSON")
    if not isinstance(body, dict):
        raise DeskError(400, "the body must be a JSON object")
    return body


def _escalated_at(value: Any) -> Optional[datetime]:
    """When an escalation queued by the bot during a desk outage really happened (SLA counts from then)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.rstrip("Z"))
    except ValueError:
        raise DeskError(400, "'escalated_at' must be an ISO-8601 UTC time")
    now = utcnow()
    return moment if now - timedelta(days=7) <= moment <= now else None


def _set_cookie(answer: HTTPResponse, name: str, value: str) -> None:
    """Desk cookies: only for /desk, never sent cross-site, unreadable by page scripts."""
    answer.cookies[name] = value
    for key, setting in (("httponly", True), ("samesite", "Strict"), ("path", "/desk")):
        answer.cookies[name][key] = setting


def _form_value(request: Request, name: str) -> str:
    values = request.form.getlist(name) if request.form else None
    return values[0] if values else ""


def create_app(desk: Desk, name: str = "wallet_desk") -> Sanic:
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_MAX_SIZE = 1_000_000
    service = desk.service

    # ----- errors ---------------------------------------------------------
    @app.exception(DeskError)
    async def desk_error(request: Request, error: DeskError) -> HTTPResponse:
        if request.path.startswith("/desk"):
            session = desk.sessions.find(request.cookies.get(SESSION_COOKIE))
            language = session.language if session else request.cookies.get(LANGUAGE_COOKIE, "zh")
            return desk.render("error.html", language if language in UI_TEXT else "zh", status=error.status,
                               reason=error.reason, agent=session.agent if session else None, csrf=session.csrf_token if session else "")
        return response.json({"error": error.reason}, status=error.status)

    @app.exception(NotFound)
    async def not_found(request: Request, error: Exception) -> HTTPResponse:
        return response.json({"error": f"no such route: {request.method} {request.path}"}, status=404)

    @app.exception(SanicException)
    async def sanic_error(request: Request, error: SanicException) -> HTTPResponse:
        return response.json({"error": str(error) or "bad request"}, status=getattr(error, "status_code", 400))

    @app.exception(Exception)
    async def unexpected(request: Request, error: Exception) -> HTTPResponse:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return response.json({"error": "internal error; it has been logged"}, status=500)

    # ----- JSON API ---------------------------------------------------------
    def api(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
        async def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            agent = service.api_identity(_bearer(request))
            if agent is None:
                return response.json({"error": "missing or invalid bearer token"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
            return await handler(request, agent, *args, **kwargs)
        wrapped.__name__ = handler.__name__
        return wrapped

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        try:
            service.ping()
        except Exception as error:  # noqa: BLE001 - reported, not hidden
            logger.error("desk database unavailable: %r", error)
            return response.json({"status": "degraded", "database": "unavailable"}, status=503)
        # Deliveries the bot has not confirmed yet: a growing number means Rasa is not taking them.
        return response.json({"status": "ok", "database": "ok",
                              "undelivered_agent_replies": len(service.conversations_awaiting_delivery()),
                              "incident_deliveries_due": len(desk.incidents.conversations_due())})

    @app.get("/api/tickets")
    @api
    async def list_tickets(request: Request, agent: Agent) -> HTTPResponse:
        tickets = service.queue(request.args.get("status", "open"))
        return response.json({"tickets": [ticket_summary(t) for t in tickets]})

    @app.get("/api/tickets/<public_id>")
    @api
    async def get_ticket(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
        return response.json(ticket_detail(service.get(public_id)))

    @app.post("/api/tickets/<public_id>/claim")
    @api
    async def claim_ticket(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
        service.claim(public_id, agent)
        return response.json(ticket_detail(service.get(public_id)))

    @app.post("/api/tickets/<public_id>/reply")
    @api
    async def reply_ticket(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
        text = _json_body(request).get("text")
        if not isinstance(text, str):
            raise DeskError(400, "'text' (a string) is required")
        message = service.reply(public_id, agent, text)
        ticket = service.get(public_id)
        request.app.add_task(desk.deliver(ticket.conversation_id))
        return response.json(message_json(message), status=201)

    @app.post("/api/tickets/<public_id>/close")
    @api
    async def close_ticket(request: Request, agent: Agent, public_id: str) -> HTTPResponse:
        outcome = _json_body(request).get("outcome", "resolved")
        ticket = service.close(public_id, agent, str(outcome))
        request.app.add_task(desk.announce_close(ticket.conversation_id))
        return response.json(ticket_detail(service.get(public_id)))

    @app.get("/api/metrics")
    @api
    async def metrics(request: Request, agent: Agent) -> HTTPResponse:
        return response.json(service.metrics())

    @app.get("/api/shifts")
    @api
    async def get_shifts(request: Request, agent: Agent) -> HTTPResponse:
        return response.json({"timezone": desk.settings.timezone, "shifts": service.shifts()})

    @app.put("/api/shifts")
    @api
    async def put_shifts(request: Request, agent: Agent) -> HTTPResponse:
        if agent.role != "supervisor":
            raise DeskError(403, "only supervisors change shifts")
        shifts = _json_body(request).get("shifts")
        if not isinstance(shifts, list) or not all(isinstance(s, dict) for s in shifts):
            raise DeskError(400, "'shifts' must be a list of {weekdays, start, end, agents}")
        service.set_shifts(shifts)
        return response.json({"timezone": desk.settings.timezone, "shifts": service.shifts()})

    # ----- what the bot's actions call --------------------------------------
    @app.post("/api/escalations")
    @api
    async def escalate(request: Request, agent: Agent) -> HTTPResponse:
        body = _json_body(request)
        conversation_id, priority = body.get("conversation_id"), body.get("priority")
        if not isinstance(conversation_id, str) or not isinstance(priority, str):
            raise DeskError(400, "'conversation_id' and 'priority' (strings) are required")
        details = body.get("details") or {}
        if not isinstance(details, dict):
            raise DeskError(400, "'details' must be an object")
        incident = body.get("incident")
        incident_id = desk.incidents.incident_id(incident) if isinstance(incident, str) else None
        result = service.escalate(conversation_id, priority, channel=str(body.get("channel") or "unknown"),
                                  incident_id=incident_id,
                                  now=_escalated_at(body.get("escalated_at")),
                                  intent=body.get("intent") if isinstance(body.get("intent"), str) else None,
                                  language=str(body.get("language") or "zh"), details=details,
                                  text=body.get("text") if isinstance(body.get("text"), str) else None)
        if result.created and result.ticket.priority == "P1":
            request.app.add_task(desk.alerts.new_p1(result.ticket))
        return response.json({"ticket": ticket_summary(result.ticket), "created": result.created, **eta_json(result.eta)},
                             status=201 if result.created else 200)

    @app.get("/api/conversations/<conversation_id>/ticket")
    @api
    async def conversation_ticket(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
        found = service.conversation_status(conversation_id)
        if found is None:
            raise DeskError(404, "no open ticket for this conversation")
        ticket, eta = found
        return response.json({"ticket": ticket_summary(ticket), **eta_json(eta)})

    @app.post("/api/conversations/<conversation_id>/messages")
    @api
    async def conversation_message(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
        body = _json_body(request)
        if not isinstance(body.get("text"), str):
            raise DeskError(400, "'text' (a string) is required")
        ticket = service.append_user_message(conversation_id, body["text"], intent=body.get("intent"),
                                             priority=body.get("priority"))
        return response.json({"ticket": ticket_summary(ticket)}, status=201)

    @app.post("/api/conversations/<conversation_id>/cancel")
    @api
    async def conversation_cancel(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
        return response.json({"ticket": ticket_summary(service.cancel_by_user(conversation_id))})

    @app.post("/api/conversations/<conversation_id>/csat")
    @api
    async def conversation_csat(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
        rating = _json_body(request).get("rating")
        ticket = service.record_csat(conversation_id, rating if isinstance(rating, int) and not isinstance(rating, bool) else -1)
        return response.json({"ticket": ticket_summary(ticket), "csat": ticket.csat})

    @app.get("/api/conversations/<conversation_id>/replies")
    @api
    async def conversation_replies(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
        return response.json({"replies": [message_json(m) for m in service.pending_replies(conversation_id)]})

    @app.post("/api/conversations/<conversation_id>/replies/ack")
    @api
    async def conversation_replies_ack(request: Request, agent: Agent, conversation_id: str) -> HTTPResponse:
        ids = _json_body(request).get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise DeskError(400, "'ids' must be a list of message ids")
        return response.json({"acknowledged": service.mark_delivered(conversation_id, ids)})

    # ----- agents' pages ----------------------------------------------------
    def page(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
        """Logged-in agents only; every POST must carry the session's CSRF token."""
        async def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            session = desk.sessions.find(request.cookies.get(SESSION_COOKIE))
            if session is None:
                return response.redirect("/desk/login")
            if request.method == "POST" and not session.csrf_ok(_form_value(request, "csrf")):
                raise DeskError(403, "the form expired or did not come from this desk (CSRF check failed); reload and retry")
            return await handler(request, session, *args, **kwargs)
        wrapped.__name__ = handler.__name__
        return wrapped

    def render_for(session: ActiveSession, template: str, **context: Any) -> HTTPResponse:
        return desk.render(template, session.language, agent=session.agent, csrf=session.csrf_token, **context)

    @app.get("/desk/login")
    async def login_form(request: Request) -> HTTPResponse:
        token = secrets.token_urlsafe(24)
        language = request.cookies.get(LANGUAGE_COOKIE, "zh")
        page_response = desk.render("login.html", language if language in UI_TEXT else "zh", csrf=token, agent=None,
                                    failed=request.args.get("failed") == "1")
        _set_cookie(page_response, PRELOGIN_COOKIE, token)
        return page_response

    @app.post("/desk/login")
    async def login(request: Request) -> HTTPResponse:
        expected = request.cookies.get(PRELOGIN_COOKIE)
        presented = _form_value(request, "csrf")
        if not expected or not presented or not hmac.compare_digest(expected.encode(), presented.encode()):
            raise DeskError(403, "the login form expired (CSRF check failed); reload and retry")
        agent = service.authenticate(_form_value(request, "username"), _form_value(request, "password"))
        if agent is None:
            return response.redirect("/desk/login?failed=1")
        language = request.cookies.get(LANGUAGE_COOKIE, "zh")
        token = desk.sessions.open(agent, language if language in UI_TEXT else "zh")
        redirect = response.redirect("/desk/")
        _set_cookie(redirect, SESSION_COOKIE, token)
        del redirect.cookies[PRELOGIN_COOKIE]
        return redirect

    @app.post("/desk/language")
    async def toggle_language(request: Request) -> HTTPResponse:
        session = desk.sessions.find(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            if not session.csrf_ok(_form_value(request, "csrf")):
                raise DeskError(403, "CSRF check failed; reload and retry")
            language = "en" if session.language == "zh" else "zh"
            desk.sessions.set_language(session, language)
            # Back to the page the agent was on; only a path on this desk, never another site.
            back = urlsplit(request.headers.get("referer") or "").path
            target = back if back.startswith("/desk/") else "/desk/"
        else:
            language = "en" if request.cookies.get(LANGUAGE_COOKIE, "zh") == "zh" else "zh"
            target = "/desk/login"
        redirect = response.redirect(target)
        _set_cookie(redirect, LANGUAGE_COOKIE, language)
        return redirect

    @app.post("/desk/logout")
    @page
    async def logout(request: Request, session: ActiveSession) -> HTTPResponse:
        desk.sessions.close(session)
        redirect = response.redirect("/desk/login")
        del redirect.cookies[SESSION_COOKIE]
        return redirect

    @app.get("/desk/")
    @page
    async def queue_page(request: Request, session: ActiveSession) -> HTTPResponse:
        metrics = service.metrics()
        return render_for(session, "queue.html", tickets=service.queue("open"), agents_on_shift=metrics["agents_on_shift"])

    @app.get("/desk/tickets/<public_id>")
    @page
    async def ticket_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
        ticket = service.get(public_id)
        try:
            transcript = await desk.rasa.transcript(ticket.conversation_id)
            transcript = [{**line, "text": store_text(line["text"])} for line in transcript]
        except RasaUnavailable as error:
            logger.warning("transcript of %s unavailable: %s", public_id, error)
            transcript = None
        return render_for(session, "ticket.html", ticket=ticket, transcript=transcript, error=request.args.get("error"))

    @app.get("/desk/tickets/<public_id>/thread")
    @page
    async def ticket_thread(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
        html = desk.templates.get_template("thread.html").render(t=UI_TEXT[session.language], ticket=service.get(public_id))
        return response.html(html, headers={"Cache-Control": "no-store"})

    @app.post("/desk/tickets/<public_id>/claim")
    @page
    async def claim_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
        service.claim(public_id, session.agent)
        return response.redirect(f"/desk/tickets/{public_id}")

    @app.post("/desk/tickets/<public_id>/reply")
    @page
    async def reply_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
        service.reply(public_id, session.agent, _form_value(request, "text"))
        request.app.add_task(desk.deliver(service.get(public_id).conversation_id))
        return response.redirect(f"/desk/tickets/{public_id}")

    @app.post("/desk/tickets/<public_id>/close")
    @page
    async def close_page(request: Request, session: ActiveSession, public_id: str) -> HTTPResponse:
        ticket = service.close(public_id, session.agent, _form_value(request, "outcome"))
        request.app.add_task(desk.announce_close(ticket.conversation_id))
        return response.redirect(f"/desk/tickets/{public_id}")

    @app.get("/desk/dashboard")
    @page
    async def dashboard(request: Request, session: ActiveSession) -> HTTPResponse:
        if session.agent.role != "supervisor":
            raise DeskError(403, "the dashboard is for supervisors")
        return render_for(session, "dashboard.html", metrics=service.metrics(), shifts=service.shifts(),
                          timezone=desk.settings.timezone, error=request.args.get("error"))

    @app.post("/desk/shifts")
    @page
    async def save_shifts(request: Request, session: ActiveSession) -> HTTPResponse:
        if session.agent.role != "supervisor":
            raise DeskError(403, "only supervisors change shifts")
        form = request.form
        rows = zip(form.getlist("weekdays", []), form.getlist("start", []), form.getlist("end", []), form.getlist("agents", []))
        shifts = [{"weekdays": [d for d in w.replace(" ", "").split(",") if d], "start": s, "end": e, "agents": a or "1"}
                  for w, s, e, a in rows if s.strip() or e.strip()]
        service.set_shifts(shifts)
        return response.redirect("/desk/dashboard")

    register_incident_routes(app, desk, api, page, _json_body, render_for)

    # ----- the users' web widget (rasa-webchat from npm, never a CDN) ------
    webchat_bundle = WIDGET_ROOT / "node_modules/rasa-webchat/lib/index.js"

    @app.get("/widget/")
    async def widget_page(request: Request) -> HTTPResponse:
        language = "en" if request.args.get("lang") == "en" else "zh"
        text = UI_TEXT[language]
        socket_url = desk.socket_public_url
        page = desk.templates.get_template("widget.html").render(
            t=text, lang=language, socket_url=socket_url, widget_text={k: v for k, v in text.items() if k.startswith("widget_")})
        ws_url = "ws" + socket_url[4:] if socket_url.startswith("http") else socket_url
        return response.html(page, headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": f"default-src 'self'; connect-src 'self' {socket_url} {ws_url}; "
                                       "img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"})

    @app.get("/widget/webchat.js")
    async def widget_bundle(request: Request) -> HTTPResponse:
        if not webchat_bundle.exists():
            return response.text("rasa-webchat is not installed: run `make setup` (npm ci in widget/)", status=503)
        return await response.file(str(webchat_bundle), mime_type="application/javascript",
                                   headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/widget/status")
    async def widget_status(request: Request) -> HTTPResponse:
        """The open ticket of the conversation whose signed session id the browser holds."""
        session_id = request.args.get("session")
        if not desk.session_signer.verify(session_id):
            raise DeskError(400, "not a session id issued by this service")
        found = service.conversation_status(session_id)
        if found is None:
            return response.json({"ticket": None})
        ticket, eta = found
        return response.json({"ticket": {"id": ticket.public_id, "status": ticket.status, "priority": ticket.priority},
                              **eta_json(eta)})

    @app.get("/")
    async def root(request: Request) -> HTTPResponse:
        return response.redirect("/desk/")

    @app.after_server_start
    async def start_delivery_loop(app: Sanic, _loop: Any) -> None:
        app.ctx.delivery_loop = asyncio.ensure_future(desk.delivery_loop())
        app.ctx.broadcast_loop = asyncio.ensure_future(desk.broadcaster.loop(desk.settings.delivery_retry_seconds))

    @app.before_server_stop
    async def stop_delivery_loop(app: Sanic, _loop: Any) -> None:
        app.ctx.delivery_loop.cancel()
        app.ctx.broadcast_loop.cancel()

    return app
