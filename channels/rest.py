"""The REST channel (``/webhooks/rest/webhook``) behind the input gate."""

from __future__ import annotations

from typing import Optional, Text

from rasa.core.channels.rest import RestInput
from sanic import Blueprint
from sanic.request import Request

from channels.input_gate import MessageHandler, clean_text, gated


class GatedRestInput(RestInput):
    """Rasa's RestInput; the text is cleaned as soon as it is read from the request.

    Cleaning in ``_extract_message`` also covers Rasa's own error log line,
    which repeats the text when handling a message fails.
    """

    def _extract_message(self, req: Request) -> Optional[Text]:
        text = super()._extract_message(req)
        return clean_text(text) if isinstance(text, str) else text

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        return super().blueprint(gated(on_new_message))
