"""The REST channel (``/webhooks/rest/webhook``) with secrets redacted on the way in."""

from __future__ import annotations

from typing import Optional, Text

from rasa.core.channels.rest import RestInput
from sanic import Blueprint
from sanic.request import Request

from channels.redacting import MessageHandler, redacting_handler
from wallet_support.redaction import redact


class RedactingRestInput(RestInput):
    """Rasa's RestInput; the text is redacted as soon as it is read from the request.

    Redacting in ``_extract_message`` also covers Rasa's own error log line,
    which repeats the text when handling a message fails.
    """

    def _extract_message(self, req: Request) -> Optional[Text]:
        text = super()._extract_message(req)
        return redact(text).text if isinstance(text, str) else text

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        return super().blueprint(redacting_handler(on_new_message))
