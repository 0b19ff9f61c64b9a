"""An action gateway in front of a stand-in action server (an aiohttp handler on a free port)."""

from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web

from rasa_server.action_gateway import ActionGateway
from tests.http_standin import serving


@asynccontextmanager
async def gateway_to(handler: Callable[[web.Request], Awaitable[web.Response]], tmp_path) -> AsyncIterator[ActionGateway]:
    """The gateway forwarding to ``handler`` as its action server; both stopped afterwards."""
    async with serving("/webhook", handler) as url:
        gateway = ActionGateway(f"{url}/webhook", "t", 5, tmp_path / "outbox.db")
        try:
            yield gateway
        finally:
            await gateway.close()
