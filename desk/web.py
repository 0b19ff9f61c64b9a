"""The desk's HTTP server (Sanic, which ships with Rasa): JSON API, agent pages, delivery loop.

``/api/...`` takes ``Authorization: Bearer <token>`` (DESK_API_TOKEN or a token
from ``python -m desk create-token``); ``/desk/...`` are the agents' pages with
a session cookie and a CSRF token on every form. The README lists the API.
The routes are in ``desk.routes``, one blueprint per area; ``create_app`` puts
the shared ``Desk`` on the app's context and assembles them.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, Optional

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic, response
from sanic.response import HTTPResponse

from desk.attachments import AttachmentStore
from desk.broadcast import IncidentBroadcaster
from desk.conversation_log import ConversationLog
from desk.canned import CannedReplies
from desk import context as ticket_context
from desk.capacity import CapacityAlarm
from desk.handling import Handling
from desk.notifications import Notices
from desk.incidents import IncidentService
from desk.nlu_inbox import NluInbox
from desk.oncall import OnCallAlerts
from desk.paging import Pager
from desk.rasa_client import AGENT_REPLY_INTENT, TICKET_CLOSED_INTENT, RasaClient, RasaUnavailable
from desk.routes import BLUEPRINTS, register_error_handlers
from desk.routes.common import DESK_ROOT, UI_TEXT
from desk.service import DeskService
from desk.sessions import WebSessions
from desk.settings import DeskSettings, SocketIOSettings
from desk.throttle import LoginThrottle
from deskapi.replies import reply_entities, reply_said
from safety.widget_sessions import SessionSigner

logger = logging.getLogger(__name__)
MAX_DELIVERY_ATTEMPTS = 30
PAGE_HEADERS = {"X-Frame-Options": "DENY", "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'"}


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
        self.login_throttle = LoginThrottle(settings.login_max_failures, settings.login_window_seconds)
        self.templates = Environment(loader=FileSystemLoader(str(DESK_ROOT / "templates")), autoescape=select_autoescape(["html"]))
        self._delivery_locks: Dict[str, asyncio.Lock] = {}
        self._delivery_users: Dict[str, int] = {}
        self.incidents = IncidentService(service.db, settings.timezone)
        self.broadcaster = IncidentBroadcaster(self.incidents, rasa)
        self.pager = Pager(service, alerts, settings)
        self.conversation_log = ConversationLog(settings.tracker_database_url)
        self.nlu_inbox = NluInbox(service.db, self.conversation_log)
        self.notices = Notices()
        self.capacity = CapacityAlarm(service, alerts, self.notices)
        self.handling = Handling(service)
        self.attachments = AttachmentStore(service)
        self.canned = CannedReplies(service)
        ticket_context.register(self.templates, service, self.attachments, self.handling)

    # ----- delivery of agent replies and ticket events --------------------
    @asynccontextmanager
    async def _delivering(self, conversation_id: str) -> AsyncIterator[None]:
        """One delivery at a time per conversation (a second waits, then finds what is left)."""
        lock = self._delivery_locks.setdefault(conversation_id, asyncio.Lock())
        self._delivery_users[conversation_id] = self._delivery_users.get(conversation_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._delivery_users[conversation_id] -= 1
            if not self._delivery_users[conversation_id]:
                del self._delivery_users[conversation_id], self._delivery_locks[conversation_id]

    async def deliver(self, conversation_id: str) -> None:
        """Pass the conversation's pending agent replies to the user's channel, oldest first, one trigger each.

        A reply is marked delivered only when Rasa answered 2xx (its output channel took the
        message: a Telegram 403 or a widget with no socket fails the call) and the tracker it
        answered shows the bot said that very reply. The first failure ends the round, so a
        later reply never overtakes an undelivered one; the loop and the agent's retry try again.
        """
        async with self._delivering(conversation_id):
            for reply in self.service.pending_replies(conversation_id):
                try:
                    answer = await self.rasa.trigger(conversation_id, AGENT_REPLY_INTENT, reply_entities(reply.id))
                    events = (answer.get("tracker") or {}).get("events") or ()
                    error = None if reply_said(events, reply.id, reply.text) else "not said by the bot"
                except RasaUnavailable as failure:
                    error = str(failure)
                if error is not None:
                    logger.warning("agent reply %s for %s not delivered yet: %s", reply.id, conversation_id, error)
                    self.service.note_delivery_failure(conversation_id, error)
                    return
                self.service.mark_delivered(conversation_id, [reply.id])

    async def delivery_loop(self) -> None:
        """Retry undelivered agent replies until Rasa takes them (or attempts run out)."""
        while True:
            await asyncio.sleep(self.settings.delivery_retry_seconds)
            try:
                for conversation_id in self.service.conversations_awaiting_delivery():
                    if conversation_id in self._delivery_locks:
                        continue  # being delivered right now
                    pending = self.service.pending_replies(conversation_id)
                    if pending and max(m.delivery_attempts for m in pending) < MAX_DELIVERY_ATTEMPTS:
                        await self.deliver(conversation_id)
            except Exception:  # the loop must outlive one bad round (e.g. the database restarting)
                logger.exception("delivery retry round failed")

    async def announce_close(self, conversation_id: str) -> None:
        await self.deliver(conversation_id)  # the agent's last replies before the close
        try:
            await self.rasa.trigger(conversation_id, TICKET_CLOSED_INTENT)
        except RasaUnavailable as error:
            logger.warning("could not tell %s that the ticket closed: %s", conversation_id, error)

    # ----- pages ----------------------------------------------------------
    def render(self, template: str, language: str, status: int = 200, **context: Any) -> HTTPResponse:
        html = self.templates.get_template(template).render(t=UI_TEXT[language], lang=language, **context)
        return response.html(html, status=status, headers=dict(PAGE_HEADERS))


async def start_loops(app: Sanic, _loop: Any) -> None:
    desk: Desk = app.ctx.desk
    app.ctx.delivery_loop = asyncio.ensure_future(desk.delivery_loop())
    app.ctx.broadcast_loop = asyncio.ensure_future(desk.broadcaster.loop(desk.settings.delivery_retry_seconds))
    app.ctx.paging_loop = asyncio.ensure_future(desk.pager.loop(desk.settings.delivery_retry_seconds))
    app.ctx.capacity_loop = asyncio.ensure_future(desk.capacity.loop(desk.settings.delivery_retry_seconds))
    app.ctx.retention_loop = asyncio.ensure_future(desk.attachments.loop())


async def stop_loops(app: Sanic, _loop: Any) -> None:
    app.ctx.delivery_loop.cancel()
    app.ctx.broadcast_loop.cancel()
    app.ctx.paging_loop.cancel()
    app.ctx.capacity_loop.cancel()
    app.ctx.retention_loop.cancel()


def create_app(desk: Desk, name: str = "wallet_desk") -> Sanic:
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_MAX_SIZE = 1_000_000
    ctx = app.ctx
    ctx.desk, ctx.settings, ctx.service, ctx.rasa, ctx.alerts = desk, desk.settings, desk.service, desk.rasa, desk.alerts
    ctx.sessions, ctx.incidents = desk.sessions, desk.incidents
    register_error_handlers(app)
    for blueprint in BLUEPRINTS:
        app.blueprint(blueprint)
    app.register_listener(start_loops, "after_server_start")
    app.register_listener(stop_loops, "before_server_stop")
    return app
