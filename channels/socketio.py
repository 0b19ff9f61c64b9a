"""The socket.io channel (web widget) with secrets redacted on the way in."""

from __future__ import annotations

from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from channels.redacting import MessageHandler, redacting_handler


class RedactingSocketIOInput(SocketIOInput):
    """Rasa's SocketIOInput; every user message passes the redactor first."""

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        return super().blueprint(redacting_handler(on_new_message))
