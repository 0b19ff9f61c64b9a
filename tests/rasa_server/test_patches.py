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


def test_clauses_are_parsed_in_one_graph_run_with_the_parses_one_run_each_gives():
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    from nlu.triage import segment, triage_parse

    agent = Agent.load(str(latest_model()))
    processor = agent.processor
    tracker = DialogueStateTracker.from_events("clauses", [])
    text = ("I sent 100 USDT from Binance to my TRC20 address yesterday and it never arrived!! "
            "今天早上钱包里的币全被转走了，不是我操作的。What should I do with the wallet now")
    clauses = [clause for _start, clause in segment(text)]
    assert len(clauses) >= 3
    batch = patches.parse_with_graph(processor, [UserMessage(c, sender_id="clauses") for c in clauses], tracker)
    for clause, parse in zip(clauses, batch):
        alone = processor._parse_message_with_graph(UserMessage(clause, sender_id="clauses"), tracker)
        assert parse["text"] == alone["text"] and parse["intent"]["name"] == alone["intent"]["name"]
        assert abs(parse["intent"]["confidence"] - alone["intent"]["confidence"]) < 1e-4
        assert parse["entities"] == alone["entities"]

    def one_run_each(texts):
        return [processor._parse_message_with_graph(UserMessage(t, sender_id="clauses"), tracker) for t in texts]

    async def expected_parse():
        stock_whole = await patches._stock_parse_message(processor, UserMessage(text, sender_id="clauses"), tracker)
        return triage_parse(text, stock_whole, one_run_each)

    expected = asyncio.run(expected_parse())
    runs = []
    run = processor.graph_runner.run
    processor.graph_runner.run = lambda *args, **kwargs: runs.append(1) or run(*args, **kwargs)
    try:
        batched = asyncio.run(patches._text_parse(processor, UserMessage(text, sender_id="clauses"), tracker, True))
    finally:
        processor.graph_runner.run = run
    # The whole message and its clauses in one run (no pleasantries here to drop and parse again), where
    # it took one for the whole and one for the clauses; the same decision, ranking, entities and triage.
    assert len(runs) == 1
    assert batched["intent"]["name"] == expected["intent"]["name"]
    assert [r["name"] for r in batched["intent_ranking"]] == [r["name"] for r in expected["intent_ranking"]]
    assert batched["entities"] == expected["entities"] and batched["triage"] == expected["triage"]
