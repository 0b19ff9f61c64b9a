"""The action gateway: Rasa's action endpoint, inside the Rasa process, in front of the action server.

Stock Rasa 3.6 waits up to 5 minutes for the action server and, when it fails,
logs "Bot will continue, but the actions events are lost" and says nothing to
the user. At start-up the loaded agent's action endpoint is replaced by
:class:`InProcessActionEndpoint`, which hands each call to the gateway directly
(``endpoints.yml`` also points at the gateway's HTTP route,
``/webhooks/action_gateway/webhook``, used until then): the gateway forwards each call to the
real action server (settings ``action_gateway.upstream_url``) with a timeout
well under the conversation lock, passes its answer through (rejections
included, which forms rely on), and when the action server is down, slow or
raising, answers itself through :class:`answers.fallback.ActionFallback`.
``action_answer_faq`` and the handoff loop's relay are run right here (``LOCAL_ACTIONS``), without the hop.
Its outbox of escalations is flushed to the desk from this process. The domain goes to the
action server once per model, not in every call (``answers/domain_digest.py``).

``GET /webhooks/action_gateway/health`` reports the action server, the desk,
the tracker store and the outbox backlog (503 when one is down: for monitoring);
``GET /webhooks/action_gateway/ready`` only whether this process can answer (model
loaded, tracker store reachable): the readiness probe (rasa_server/health.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Set, Text, Tuple

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from answers.domain_digest import DIGEST_KEY, UNKNOWN_DIGEST, DigestMemo
from rasa_server import patches, tracker_guard
from settings import PROJECT_ROOT, get_settings
from rasa_server.spool import get_spool, replay_forever
from safety.tokens import token_matches
from rasa_server.workers import get_workers

logger = logging.getLogger(__name__)


def _answer_faq() -> Any:
    from answers.faq import ActionAnswerFaq

    return ActionAnswerFaq()


def _validate_handoff() -> Any:
    from answers.handoff import ValidateHandoffForm

    return ValidateHandoffForm()


def _ask_handoff_message() -> Any:
    from answers.handoff import ActionAskHandoffMessage

    return ActionAskHandoffMessage()


# Actions the gateway runs in this process instead of asking the action server: the FAQ
# answer (with its incident check) is most of the traffic in a flood, reads the desk only
# through a cache, and must not lose its incident notice when the action server is busy.
# The handoff loop's relay and its empty "question" run right after every escalation (two
# calls with the whole tracker each); the relay is idempotent, so a local failure retried
# by the action server relays once.
LOCAL_ACTIONS = {"action_answer_faq": _answer_faq, "validate_handoff_form": _validate_handoff,
                 "action_ask_handoff_message": _ask_handoff_message}


class ActionGateway:
    """Forward to the action server; answer from the fallback when it cannot."""

    def __init__(self, upstream_url: str, token: Optional[str], timeout_seconds: float, outbox_path: Path) -> None:
        from answers.fallback import ActionFallback
        from deskapi.outbox import EscalationOutbox

        self.upstream_url = upstream_url
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.outbox = EscalationOutbox(outbox_path)
        self.fallback = ActionFallback(self.outbox)
        self.failures = 0
        self.last_failure: Optional[str] = None
        self.last_failure_at: Optional[float] = None
        self._session: Optional[aiohttp.ClientSession] = None
        self._digests = DigestMemo()
        self._upstream_domains: Set[str] = set()  # digests of the domains the action server holds

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def run(self, body: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
        name, sender = body.get("next_action"), body.get("sender_id")
        if name in LOCAL_ACTIONS:
            try:
                return 200, await self._run_locally(LOCAL_ACTIONS[name](), body)
            except Exception:  # noqa: BLE001 - the action server can still answer it
                logger.exception("local action %s failed for %s; asking the action server", name, sender)
        try:
            status, answer = await self._post(body)
            if status == 409 and answer.get("error") == UNKNOWN_DIGEST:  # the action server restarted
                self._upstream_domains.clear()
                status, answer = await self._post(body)  # this time with the domain
            # 2xx, and 400: a form's rejection, which Rasa acts on. Any other 4xx (401 after a
            # token rotation, 404) would leave the user in silence: the fallback answers it.
            if status <= 400:
                return status, answer
            reason = f"HTTP {status}: {json.dumps(answer, ensure_ascii=False)[:200]}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as error:
            reason = repr(error) if not isinstance(error, asyncio.TimeoutError) else f"no answer within {self.timeout.total} s"
        self.failures += 1
        self.last_failure, self.last_failure_at = reason, time.time()
        logger.error("action %s for %s failed (%s); the gateway answers instead", name, sender, reason)
        return 200, await self.fallback.answer(body)

    async def _post(self, body: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
        """One call to the action server; the domain goes along only until it has accepted it once."""
        domain = body.get("domain")
        digest = self._digests.digest(domain) if isinstance(domain, dict) and domain else None
        wire = body
        if digest is not None:
            wire = {**body, DIGEST_KEY: digest}
            if digest in self._upstream_domains:
                del wire["domain"]
        async with self._client().post(self.upstream_url, params={"token": self.token or ""}, json=wire) as answer:
            text = await answer.text()
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            if answer.status <= 400:  # an answer Rasa cannot use: the fallback answers instead
                raise ValueError(f"HTTP {answer.status} without a JSON object: {text[:200]!r}")
            parsed = {"error": text[:200]}
        if digest is not None and answer.status < 409 and "domain" in wire:
            self._upstream_domains.add(digest)
        return answer.status, parsed

    @staticmethod
    async def _run_locally(action: Any, body: Dict[str, Any]) -> Dict[str, Any]:
        """Run a rasa-sdk action in this process, answering in the action server's format."""
        from rasa_sdk import Tracker
        from rasa_sdk.executor import CollectingDispatcher

        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, Tracker.from_dict(body.get("tracker") or {}), body.get("domain") or {})
        return {"events": events or [], "responses": dispatcher.messages}

    async def upstream_health(self) -> str:
        health = self.upstream_url.rsplit("/", 1)[0] + "/health"
        try:
            async with self._client().get(health, timeout=aiohttp.ClientTimeout(total=3)) as answer:
                return "ok" if answer.status == 200 else f"unhealthy (HTTP {answer.status})"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            return f"unavailable ({type(error).__name__})"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class InProcessActionEndpoint(EndpointConfig):
    """Rasa's action endpoint, answered by the gateway in this process: no HTTP call to ourselves.

    Under a flood Rasa's own listen backlog fills up, and a call to its own
    gateway route fails to connect like any other request ("Bot will continue,
    but the actions events are lost"). Handing the call to the gateway directly
    removes that hop; 4xx answers of the action server (form rejections) are
    raised as Rasa's ClientResponseError, as the HTTP endpoint would.
    """

    def __init__(self, original: EndpointConfig, gateway: ActionGateway) -> None:
        super().__init__(url=original.url, params=original.params, headers=original.headers,
                         basic_auth=original.basic_auth, token=original.token, token_name=original.token_name,
                         cafile=original.cafile)
        self.gateway = gateway

    async def request(self, method: Text = "post", subpath: Optional[Text] = None,
                      content_type: Optional[Text] = "application/json", compress: bool = False,
                      **kwargs: Any) -> Optional[Any]:
        status, answer = await self.gateway.run(kwargs.get("json") or {})
        if status >= 400:
            raise ClientResponseError(status, "rejected by the action server", json.dumps(answer))
        return answer


def route_actions_in_process(agent: Any, gateway: ActionGateway) -> None:
    """Point the loaded agent's action endpoint at the gateway itself (idempotent)."""
    processor = getattr(agent, "processor", None)
    current = getattr(processor, "action_endpoint", None) or getattr(agent, "action_endpoint", None)
    if current is None or isinstance(current, InProcessActionEndpoint):
        return
    endpoint = InProcessActionEndpoint(current, gateway)
    agent.action_endpoint = endpoint
    if processor is not None:
        processor.action_endpoint = endpoint
    logger.info("actions go through the in-process gateway to %s", gateway.upstream_url)


def _store_answers(app: Any) -> bool:
    store = getattr(app.ctx.agent, "tracker_store", None)
    try:
        store.ping()
    except Exception:  # noqa: BLE001 - still down: keep the messages
        return False
    tracker_guard.monitor.recovered()
    return True


async def _replay(app: Any, entry: Dict[str, Any]) -> None:
    """A kept message, handled now, answered on the channel it came from."""
    channel = next((c for c in getattr(app.ctx, "input_channels", []) if c.name() == entry["input_channel"]), None)
    output = (channel.get_output_channel() if channel is not None else None) or CollectingOutputChannel()
    await app.ctx.agent.handle_message(UserMessage(entry["text"], output, entry["sender_id"],
                                                   input_channel=entry["input_channel"], metadata=entry["metadata"]))


class ActionGatewayInput(InputChannel):
    """Mounts the gateway's routes on Rasa's server; it takes no user messages."""

    @classmethod
    def name(cls) -> Text:
        return "action_gateway"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        settings = get_settings()
        outbox = Path(settings.action_gateway.outbox)
        gateway = ActionGateway(settings.action_gateway.upstream_url, settings.action_server_token,
                                settings.action_gateway.timeout_seconds,
                                outbox if outbox.is_absolute() else PROJECT_ROOT / outbox)
        blueprint = Blueprint("action_gateway", __name__)

        @blueprint.listener("after_server_start")
        async def start_background_work(app: Any, _loop: Any) -> None:
            from deskapi.outbox import flush_forever

            patches.install(app.ctx.agent, gateway)
            app.ctx.gateway = gateway  # the worker channel's health report reads its backlog
            app.ctx.gateway_outbox = asyncio.ensure_future(flush_forever(gateway.outbox))
            app.ctx.spool_replay = asyncio.ensure_future(
                replay_forever(get_spool(), lambda: _store_answers(app), lambda entry: _replay(app, entry)))
            app.ctx.worker_connections = asyncio.ensure_future(get_workers().keep_connections_open())

        @blueprint.listener("before_server_stop")
        async def stop_background_work(app: Any, _loop: Any) -> None:
            app.ctx.gateway_outbox.cancel()
            app.ctx.spool_replay.cancel()
            app.ctx.worker_connections.cancel()
            await gateway.close()
            await get_workers().close()

        @blueprint.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not token_matches(request.args.get("token"), settings.action_server_token):
                return response.json({"error": "missing or wrong token"}, status=401)
            try:
                body = json.loads(request.body or b"")
            except (ValueError, UnicodeDecodeError):
                return response.json({"error": "the body is not valid JSON"}, status=400)
            if not isinstance(body, dict) or not isinstance(body.get("next_action"), str):
                return response.json({"error": "'next_action' (a string) is required"}, status=400)
            status, answer = await gateway.run(body)
            return response.json(answer, status=status)

        @blueprint.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            """Every dependency; 503 when one is down. Monitoring only: never a readiness probe."""
            from rasa_server.health import rasa_health

            report = await rasa_health(request.app, gateway)
            return response.json(report, status=200 if report["status"] == "ok" else 503)

        @blueprint.route("/ready", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            """Readiness: this process can answer (model, tracker store), whatever its peers' state."""
            from rasa_server.health import rasa_readiness

            report = await rasa_readiness(request.app)
            return response.json(report, status=200 if report["status"] == "ready" else 503)

        return blueprint
