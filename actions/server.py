"""The action server, started as ``python -m actions.server``: rasa-sdk plus a token check.

rasa-sdk 3.6 accepts any caller, so anyone who can reach port 5055 could run
our actions with a forged tracker. Rasa sends the shared token as ``?token=``
(``endpoints.yml``: ``action_endpoint.token``); every route except ``/health``
refuses a call without it. The server will not start without a token. Calls that name
their domain by digest get it back from what this server was sent before
(``answers/domain_digest.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import sys
from typing import Optional

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from answers.domain_digest import DIGEST_KEY, UNKNOWN_DIGEST, KnownDomains
from settings import get_settings

logger = logging.getLogger(__name__)


def token_is_valid(presented: Optional[str], expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


async def health() -> HTTPResponse:
    """This process serves (HTTP 200); ``desk`` and the outbox backlog say whether escalations get through."""
    from deskapi.client import get_desk_client
    from deskapi.outbox import get_outbox

    desk = get_desk_client()
    if desk is None:
        desk_state = "not configured (no DESK_API_TOKEN)"
    else:
        try:
            await desk.ping()
            desk_state = "ok"
        except Exception as error:  # noqa: BLE001 - reported, not raised
            desk_state = f"unavailable ({type(error).__name__})"
    backlog = get_outbox().queue.counts()
    return response.json({"status": "ok" if desk_state == "ok" else "degraded", "desk": desk_state,
                          "escalation_outbox_pending": backlog["pending"], "escalation_outbox_dead": backlog["dead"]})


def restore_domain(request: Request, domains: KnownDomains) -> Optional[HTTPResponse]:
    """Put the domain back into a call that names it by digest; 409 when it is not known here."""
    try:
        call = request.json
    except Exception:  # noqa: BLE001 - not JSON: rasa-sdk's route answers it with its 400
        return None
    if not isinstance(call, dict):
        return None
    problem = domains.restore(call)
    if problem is None:
        return None
    return response.json({"error": problem, DIGEST_KEY: call.get(DIGEST_KEY)},
                         status=409 if problem == UNKNOWN_DIGEST else 400)


def create_authenticated_app(token: str, package: str = "actions") -> Sanic:
    """rasa-sdk's app with every route but /health behind the shared token."""
    if not token:
        raise ValueError("ACTION_SERVER_TOKEN is empty: refusing to start an open action server")
    app = create_app(package, cors_origins=[])
    app.ctx.domains = KnownDomains()

    @app.after_server_start
    async def start_outbox(app: Sanic, _loop: object) -> None:
        # Escalations kept while the desk was down: sent now and every few seconds.
        from deskapi.outbox import flush_forever, get_outbox

        app.ctx.outbox = asyncio.ensure_future(flush_forever(get_outbox()))

    @app.before_server_stop
    async def stop_outbox(app: Sanic, _loop: object) -> None:
        app.ctx.outbox.cancel()

    @app.on_request
    async def require_token(request: Request) -> Optional[HTTPResponse]:
        if request.path == "/health":
            return await health()
        if not token_is_valid(request.args.get("token"), token):
            return response.json({"error": "missing or wrong token"}, status=401)
        if request.method == "POST" and request.path == "/webhook":
            return restore_domain(request, app.ctx.domains)
        return None

    return app


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO)
    token = get_settings().action_server_token
    if not token:
        sys.exit("ACTION_SERVER_TOKEN is not set: `make run` generates one in var/secrets.env")
    app = create_authenticated_app(token)
    logger.info("Action server on http://%s:%s (token required)", args.host, args.port)
    app.run(args.host, args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
