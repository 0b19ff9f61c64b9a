"""Every Rasa patch is installed by one function, and again on a model reload (PUT /model)."""

import asyncio

import rasa.core.utils
import rasa.server
import rasa.utils.endpoints
from rasa.core.processor import MessageProcessor

from rasa_server import patches
from rasa_server.action_gateway import ActionGateway, InProcessActionEndpoint
from rasa_server.tracker_guard import StrictTrackerStore
from tests.servers import latest_model


def test_a_reloaded_model_keeps_the_gateway_and_the_strict_tracker_store(tmp_path):
    gateway = ActionGateway("http://127.0.0.1:9/webhook", "t", 1, tmp_path / "outbox.db")
    model = str(latest_model())
    endpoints = rasa.core.utils.AvailableEndpoints(action=rasa.utils.endpoints.EndpointConfig("http://127.0.0.1:9/x"))

    async def reload():
        first = await rasa.server._load_agent(model_path=model, endpoints=endpoints)
        patches.install(first, gateway)
        patches.install(first, gateway)  # idempotent: installing twice does not wrap twice
        return first, await rasa.server._load_agent(model_path=model, endpoints=endpoints)  # what PUT /model calls

    first, reloaded = asyncio.run(reload())
    for agent in (first, reloaded):
        assert isinstance(agent.tracker_store, StrictTrackerStore)
        assert isinstance(agent.processor.action_endpoint, InProcessActionEndpoint)
    assert MessageProcessor.parse_message is patches.parse_message
    assert rasa.server._load_agent.__wrapped__.__name__ == "_load_agent"
