"""The socket.io channel (web widget), hardened (a subclass of Rasa's SocketIOInput).

Rasa 3.6's channel accepts any origin, lets a client name any session id (and
so join another user's conversation room), and never joins session rooms at
all with python-socketio 5.x (``enter_room`` is a coroutine it does not await),
so messages sent later, such as an agent's reply, never arrive. This one:

- accepts sockets only from the origins in settings (``socketio.allowed_origins``);
- issues session ids itself, signed with HMAC (``SOCKETIO_SESSION_SECRET``): a
  widget that presents one of ours after a reload gets the same conversation
  back; a client-chosen or forged id is replaced by a fresh one;
- takes a message only for the session its socket was confirmed for, only as
  text, and only up to ``limits.max_message_chars``; anything else is answered
  with a ``message_refused`` event carrying the reason in zh and en;
- passes every message through the input gate (secrets, control characters,
  forged ``/intent`` payloads) before Rasa sees it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, Optional, Text

import socketio
from socketio.async_pubsub_manager import AsyncPubSubManager

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from channels.conversation_ids import caller_metadata, client_key
from channels.input_gate import MessageHandler, gated
from answers.curated import bilingual
from safety.widget_sessions import SessionSigner
from settings import get_settings

logger = logging.getLogger(__name__)
REFUSED_EVENT = "message_refused"


def keep_line_breaks(text: Text) -> Text:
    """Markdown hard breaks, so rasa-webchat shows numbered steps on their own lines."""
    return "\n\n".join(part.replace("\n", "  \n") for part in text.split("\n\n"))


class WidgetNotConnected(RuntimeError):
    """No widget holds the session now: a message sent later (an agent's reply) would reach nobody."""


class WidgetOutput(SocketIOOutput):
    """Rasa's SocketIOOutput; single line breaks survive rasa-webchat's markdown rendering.

    ``require_listener``: for messages sent outside a user's turn (the desk's triggers through
    the HTTP API). With no socket in the session's room the send raises, so Rasa answers the
    desk non-2xx and the reply stays undelivered until the widget is back (``session_request``
    asks the desk to deliver then). Behind a Redis manager the sockets of other processes are
    not visible here, so the room is not checked there.
    """

    def __init__(self, sio: Any, bot_message_evt: Text, require_listener: bool = False) -> None:
        super().__init__(sio, bot_message_evt)
        self.require_listener = require_listener

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        if self.require_listener and not self._has_listener(socket_id):
            raise WidgetNotConnected(f"no widget is connected for session {socket_id[:12]}…")
        await super()._send_message(socket_id, response)

    def _has_listener(self, session_id: Text) -> bool:
        manager = self.sio.manager
        if isinstance(manager, AsyncPubSubManager):
            return True
        return bool(manager.rooms.get("/", {}).get(session_id))

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await super().send_text_message(recipient_id, keep_line_breaks(text), **kwargs)

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: Any, **kwargs: Any) -> None:
        await super().send_text_with_buttons(recipient_id, keep_line_breaks(text), buttons, **kwargs)


class GatedSocketIOInput(SocketIOInput):
    """Rasa's SocketIOInput with origin allowlist, signed sessions, limits and the input gate."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.allowed_origins = list(settings.socketio.allowed_origins)
        self.max_message_chars = settings.max_message_chars
        self.signer = SessionSigner(settings.socketio.session_secret)
        self.redis_url = settings.socketio.redis_url
        self._confirmed: Dict[str, str] = {}  # socket id -> the session it was confirmed for
        self._clients: Dict[str, str] = {}  # socket id -> hashed client address (escalation flood limits)

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        handle = gated(on_new_message)
        sio = self.sio
        assert sio is not None
        # python-socketio checks the Origin header of every request against this list.
        sio.eio.cors_allowed_origins = self.allowed_origins
        if self.redis_url:
            # Emits to a session's room reach whichever Rasa process holds its socket.
            sio.manager = socketio.AsyncRedisManager(self.redis_url)
            sio.manager.set_server(sio)
            sio.manager_initialized = False

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            origin = environ.get("HTTP_ORIGIN")
            if origin and origin.rstrip("/") not in self.allowed_origins:
                logger.warning("socket.io connection from %s refused (origin not allowed)", origin)
                return False
            request = environ.get("sanic.request")
            address = (request.remote_addr or request.ip) if request is not None else environ.get("REMOTE_ADDR")
            self._clients[sid] = client_key(address)
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text) -> None:
            self._confirmed.pop(sid, None)
            self._clients.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = requested if self.signer.verify(requested) else self.signer.issue()
            if requested and requested != session_id:
                logger.info("socket.io client presented a session id this server did not issue; issued a new one")
            self._confirmed[sid] = session_id
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            if requested == session_id and self.session_persistence:
                # A widget back on its conversation: what could not reach it while it was gone goes now.
                asyncio.ensure_future(self._ask_for_pending_replies(session_id))

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            session_id = self._confirmed.get(sid)
            if session_id is None:
                return await self._refuse(sid, "session_not_confirmed", "utter_bad_request")
            if not isinstance(data, dict) or data.get("session_id") != session_id:
                return await self._refuse(sid, "wrong_session", "utter_bad_request")
            text = data.get("message")
            if not isinstance(text, str):
                return await self._refuse(sid, "not_text", "utter_bad_request")
            if len(text) > self.max_message_chars:
                return await self._refuse(sid, "too_long", "utter_message_too_long")
            metadata = data.get(self.metadata_key)
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = None
            # The widget's own metadata, less what only we set, plus the connection's client key (flood limits).
            metadata = caller_metadata(metadata, self._clients.get(sid) or client_key(None))
            message = UserMessage(text, WidgetOutput(sio, self.bot_message_evt), session_id,
                                  input_channel=self.name(), metadata=metadata)
            await handle(message)

        return blueprint

    def get_output_channel(self) -> Optional[WidgetOutput]:
        """For replies sent later through the HTTP API (agent replies: output_channel=latest): fails with no widget there."""
        return WidgetOutput(self.sio, self.bot_message_evt, require_listener=True) if self.sio is not None else None

    @staticmethod
    async def _ask_for_pending_replies(session_id: str) -> None:
        """Ask the desk to deliver the agent replies this session missed (it triggers them, and counts them)."""
        from deskapi.client import DeskUnavailable, get_desk_client

        desk = get_desk_client()
        if desk is None:
            return
        try:
            await desk.request_delivery(session_id)
        except DeskUnavailable as error:  # the desk's own retry loop still has them
            logger.warning("could not ask the desk to deliver to a reconnected widget: %s", error)

    async def _refuse(self, sid: str, reason: str, response_name: str) -> None:
        assert self.sio is not None
        await self.sio.emit(REFUSED_EVENT, {"reason": reason, "text": bilingual(response_name)}, room=sid,
                            namespace=self.namespace)
