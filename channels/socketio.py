"""The socket.io channel (web widget) behind the input gate."""

from __future__ import annotations

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from channels.input_gate import MessageHandler, gated


class GatedSocketIOInput(SocketIOInput):
    """Rasa's SocketIOInput; every user message passes the input gate first."""

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        return super().blueprint(gated(on_new_message))
