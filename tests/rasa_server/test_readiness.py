"""Readiness is "this process can answer", not "every dependency is up" (rasa_server/health.py).

The gateway's routes are mounted on a Sanic app in this process the way ``rasa run`` mounts
them (``rasa.core.channels.channel.register``), with the project's trained model and a real SQL
tracker store; the action server and the desk point at a closed port. With both down the bot
still answers (the gateway's fallback), so ``/ready`` says 200 while ``/health`` says 503; with
the tracker store broken the process cannot answer and ``/ready`` says 503.
"""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest
import sqlalchemy as sa
from rasa.core.agent import Agent
from rasa.core.channels.channel import register
from sanic import Sanic

import rasa_server.spool as spool_module
import rasa_server.workers as workers_module
import settings as settings_module
from rasa_server.action_gateway import ActionGatewayInput
from rasa_server.tracker_guard import StrictTrackerStore
from rasa_server.tracker_store import CachingSQLTrackerStore
from tests.servers import latest_model


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    """One in-process server for the module (Sanic 21.12 prepares its app class once per process):
    ``ready`` and ``health`` with the desk and the action server down, then ``ready`` with the
    tracker store broken."""
    tmp_path = tmp_path_factory.mktemp("readiness")
    nowhere = f"http://127.0.0.1:{closed_port()}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"ACTION_SERVER_URL": f"{nowhere}/webhook", "DESK_URL": nowhere,
                            "GATEWAY_OUTBOX_DB": str(tmp_path / "gateway_outbox.db"),
                            "MESSAGE_SPOOL_DB": str(tmp_path / "message_spool.db"),
                            "ESCALATION_OUTBOX_DB": str(tmp_path / "escalation_outbox.db"),
                            "RASA_WORKER_URLS": "", "ACTION_SERVER_TOKEN": "t"}.items():
            patch.setenv(name, value)
        settings_module.get_settings.cache_clear()
        workers_module.get_workers.cache_clear()
        patch.setattr(spool_module, "_spool", None)
        try:
            yield asyncio.run(serve(tmp_path, probe_all))
        finally:
            settings_module.get_settings.cache_clear()
            workers_module.get_workers.cache_clear()


async def probe_all(client, base, agent):
    answers = {"ready": await get(client, f"{base}/ready"), "health": await get(client, f"{base}/health")}
    with agent.tracker_store.inner.engine.begin() as connection:  # the conversations' table is gone
        connection.execute(sa.text("DROP TABLE events"))
    answers["ready, store broken"] = await get(client, f"{base}/ready")
    return answers


async def serve(tmp_path, probe):
    """Start the gateway's routes with a loaded agent, run ``probe(client, base_url, agent)``, stop."""
    store = CachingSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db"))
    agent = Agent.load(str(latest_model()), tracker_store=store)
    app = Sanic("readiness_test")
    app.ctx.agent = agent
    register([ActionGatewayInput()], app, route="/webhooks/")
    port = closed_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.after_start()  # the gateway's listener installs the patches: the strict tracker store
    try:
        assert isinstance(agent.tracker_store, StrictTrackerStore)
        async with aiohttp.ClientSession() as client:
            return await probe(client, f"http://127.0.0.1:{port}/webhooks/action_gateway", agent)
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()


async def get(client, url):
    async with client.get(url, timeout=aiohttp.ClientTimeout(total=30)) as answer:
        text = await answer.text()
        try:
            return answer.status, json.loads(text)
        except ValueError:  # a 404 page, say
            return answer.status, text


def test_ready_while_the_desk_and_the_action_server_are_down_but_health_says_503(probes):
    (ready_status, ready), (health_status, health) = probes["ready"], probes["health"]
    assert ready_status == 200, ready
    assert ready == {"status": "ready", "model": "ok", "tracker_store": "ok"}
    assert health_status == 503 and health["status"] == "degraded"
    assert health["action_server"].startswith("unavailable") and health["desk"].startswith("unavailable")
    assert health["model"] == "ok" and health["tracker_store"] == "ok"  # the same process, seen by both routes


def test_not_ready_when_the_tracker_store_is_broken(probes):
    status, report = probes["ready, store broken"]
    assert status == 503, report
    assert report["status"] == "not ready" and report["model"] == "ok"
    assert report["tracker_store"].startswith("unavailable")
