"""The socket.io channel (web widget) behind the input gate."""

from __future__ import annotations

import logging
import uuid
from typing import Dict, Optional, Text

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from channels.input_gate import MessageHandler, gated

logger = logging.getLogger(__name__)


class GatedSocketIOInput(SocketIOInput):
    """Rasa's SocketIOInput; every user message passes the input gate first.

    Also repairs session persistence: Rasa 3.6 calls ``sio.enter_room`` without
    ``await``, which python-socketio 5.x made a coroutine, so the socket never
    joins its session's room and receives no bot message sent later, such as
    an agent's reply delivered through the HTTP API (``output_channel=latest``).
    """

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        blueprint = super().blueprint(gated(on_new_message))
        sio = self.sio
        assert sio is not None

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data if isinstance(data, dict) else {}
            if not data.get("session_id"):
                data["session_id"] = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, data["session_id"], namespace=self.namespace)
            await sio.emit("session_confirm", data["session_id"], room=sid, namespace=self.namespace)
            logger.debug("socket.io session confirmed for %s", sid)

        return blueprint
