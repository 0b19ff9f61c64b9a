"""The worker side of ``rasa_server/workers.py``: turns handed over by the front Rasa process.

Mounted only on worker processes (``credentials.worker.yml``), which listen on
127.0.0.1. ``POST /webhooks/worker/webhook`` (Bearer ``RASA_WORKER_TOKEN``)
takes one user message as the front received and cleaned it, with the channel
it came from (the conversation's later replies, such as an agent's, go there),
runs the turn and answers the bot's messages for the front to send. When the
tracker store is down it answers 503 ``tracker_store_unavailable`` and the
front keeps the message in its spool, as for its own turns.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.input_gate import clean_user_message
from rasa_server.tracker_guard import TrackerStoreUnavailable
from rasa_server.workers import IDLE_CONNECTION_SECONDS, worker_token_ok

WORKER_KEEP_ALIVE_SECONDS = 2 * IDLE_CONNECTION_SECONDS


def _bad_request(reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=400)


class MessageWorkerInput(InputChannel):
    """Runs turns for the front process; not a user channel."""

    @classmethod
    def name(cls) -> Text:
        return "worker"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("message_worker", __name__)

        @blueprint.listener("after_server_start")
        async def keep_front_connections(app: Any, _loop: Any) -> None:
            # Only the front connects here; it keeps its connections for IDLE_CONNECTION_SECONDS
            # (rasa_server/workers.py), so this side must not close them first (Sanic's default: 5 s).
            app.config.KEEP_ALIVE_TIMEOUT = WORKER_KEEP_ALIVE_SECONDS

        @blueprint.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            agent = getattr(request.app.ctx, "agent", None)
            gateway = getattr(request.app.ctx, "gateway", None)
            ready = agent is not None and agent.is_ready() and gateway is not None
            report = {"status": "ok" if ready else "loading"}
            if gateway is not None:  # the front's health report adds these to its own
                report.update(gateway_outbox_pending=len(gateway.outbox.pending()),
                              action_failures_answered_by_gateway=gateway.failures)
            return response.json(report, status=200 if ready else 503)

        @blueprint.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            authorization = request.headers.get("Authorization", "")
            if not worker_token_ok(authorization[len("Bearer "):] if authorization.startswith("Bearer ") else None):
                return response.json({"error": "missing or wrong token"}, status=401)
            try:
                body = json.loads(request.body or b"")
            except (ValueError, UnicodeDecodeError):
                return _bad_request("the body is not valid JSON")
            if not isinstance(body, dict):
                return _bad_request("the body must be a JSON object")
            sender_id, text, channel = body.get("sender_id"), body.get("text"), body.get("input_channel")
            metadata, message_id = body.get("metadata"), body.get("message_id")
            if not isinstance(sender_id, str) or not sender_id or not isinstance(text, str):
                return _bad_request("'sender_id' (a non-empty string) and 'text' (a string) are required")
            if not isinstance(channel, str) or not isinstance(metadata, (dict, type(None))):
                return _bad_request("'input_channel' must be a string and 'metadata' an object")
            collector = CollectingOutputChannel()
            message = clean_user_message(UserMessage(text, collector, sender_id, input_channel=channel,
                                                     metadata=metadata,
                                                     message_id=message_id if isinstance(message_id, str) else None))
            try:
                await on_new_message(message)
            except TrackerStoreUnavailable:
                return response.json({"error": "tracker_store_unavailable"}, status=503)
            return response.json({"messages": collector.messages})

        return blueprint
