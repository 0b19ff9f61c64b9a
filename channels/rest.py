"""The REST channel (``/webhooks/rest/webhook``) behind the input gate.

For server-to-server integrations: optional bearer-token authentication
(``REST_CHANNEL_TOKEN``), and sender ids that belong to another channel (a
Telegram chat, a widget session) are refused (channels/conversation_ids.py).
Each message carries a hashed client address (``metadata.client``), so the desk
can rate-limit escalations per client.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.conversation_ids import caller_metadata, client_key, foreign_to_rest
from channels.input_gate import MessageHandler, clean_text, conversation_key, gated
from safety.tokens import token_matches
from safety.widget_sessions import SessionSigner
from answers.curated import bilingual
from settings import get_settings


def refuse(status: int, reason: str, response_name: str) -> HTTPResponse:
    return response.json({"error": reason, "message": bilingual(response_name)}, status=status)


@lru_cache(maxsize=1)
def _widget_sessions() -> SessionSigner:
    """The widget's signer, to recognise its session ids (one per process, not one per request)."""
    return SessionSigner(get_settings().socketio.session_secret or "unset")


def check_auth(request: Request) -> Optional[HTTPResponse]:
    """With REST_CHANNEL_TOKEN set, a 401 for a missing or wrong bearer token."""
    expected = get_settings().rest_channel_token
    if not expected:
        return None
    presented = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
    if token_matches(presented, expected):
        return None
    return response.json({"error": "missing or wrong bearer token"}, status=401)


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
    reason = foreign_to_rest(str(body.get("sender", "")), _widget_sessions().verify)
    if reason:
        return refuse(403, reason, "utter_foreign_conversation")
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

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        # A caller may not claim a hidden secret or another client: the gate and this channel set those.
        return caller_metadata(super().get_metadata(request), client_key(request.remote_addr or request.ip))

    def _extract_message(self, req: Request) -> Optional[Text]:
        text = super()._extract_message(req)
        if not isinstance(text, str):
            return text
        # The conversation's key as the gate forms it (channel, sender): a half of a seed phrase
        # hidden here must still leave its words for the next half to join.
        sender = (req.json or {}).get("sender")
        return clean_text(text, None if sender is None else conversation_key(self._extract_input_channel(req), sender))

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        blueprint = super().blueprint(gated(on_new_message))

        @blueprint.middleware("request")
        async def validate(request: Request) -> Optional[HTTPResponse]:
            if request.method == "POST" and request.path.endswith("/webhook"):
                return check_auth(request) or check_body(request)
            return None

        return blueprint
