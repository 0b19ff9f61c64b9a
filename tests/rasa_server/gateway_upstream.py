"""An action gateway in front of a stand-in action server (an aiohttp handler on a free port)."""

from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web

from rasa_server.action_gateway import ActionGateway


@asynccontextmanager
async def gateway_to(handler: Callable[[web.Request], Awaitable[web.Response]], tmp_path) -> AsyncIterator[ActionGateway]:
    """The gateway forwarding to ``handler`` as its action server; both stopped afterwards."""
    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    gateway = ActionGateway(f"http://127.0.0.1:{port}/webhook", "t", 5, tmp_path / "outbox.db")
    try:
        yield gateway
    finally:
        await gateway.close()
        await runner.cleanup()
