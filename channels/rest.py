"""The REST channel (``/webhooks/rest/webhook``) behind the input gate."""

from __future__ import annotations

import json
from typing import Optional, Text

from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.input_gate import MessageHandler, clean_text, gated
from wallet_support.curated import bilingual
from wallet_support.settings import get_settings


def refuse(status: int, reason: str, response_name: str) -> HTTPResponse:
    return response.json({"error": reason, "message": bilingual(response_name)}, status=status)


def check_body(request: Request) -> Optional[HTTPResponse]:
    """A 4xx with a reason for anything but ``{"sender": str, "message": str}`` of sane size."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return refuse(400, "body is not valid JSON", "utter_bad_request")
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return refuse(400, "'message' must be a string", "utter_bad_request")
    if "sender" in body and not isinstance(body["sender"], (str, int)):
        return refuse(400, "'sender' must be a string", "utter_bad_request")
    if len(body["message"]) > get_settings().max_message_chars:
        return refuse(413, f"'message' is longer than {get_settings().max_message_chars} characters",
                      "utter_message_too_long")
    return None


class GatedRestInput(RestInput):
    """Rasa's RestInput; the text is cleaned as soon as it is read from the request.

    Cleaning in ``_extract_message`` also covers Rasa's own error log line,
    which repeats the text when handling a message fails. Malformed or oversized
    bodies are refused before Rasa sees them.
    """

    def _extract_message(self, req: Request) -> Optional[Text]:
        text = super()._extract_message(req)
        return clean_text(text) if isinstance(text, str) else text

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        blueprint = super().blueprint(gated(on_new_message))

        @blueprint.middleware("request")
        async def validate(request: Request) -> Optional[HTTPResponse]:
            if request.method == "POST" and request.path.endswith("/webhook"):
                return check_body(request)
            return None

        return blueprint
