"""Turns handed to worker processes: homes, answers on the user's channel, and every failure (rasa_server/workers.py)."""

import asyncio
import collections

import pytest
from aiohttp import web
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from tests.servers import free_ports
from rasa_server.tracker_guard import TrackerStoreUnavailable
from rasa_server.workers import MessageWorkers

TOKEN = "worker-secret"


def test_without_workers_every_turn_is_run_here():
    assert MessageWorkers([], TOKEN, 5).home("anyone") is None


def test_new_conversations_are_dealt_out_by_share_and_keep_their_home():
    workers = MessageWorkers(["http://w1", "http://w2"], TOKEN, 5, front_share=0.2)
    homes = {f"user-{n}": workers.home(f"user-{n}") for n in range(100)}
    assert collections.Counter(homes.values()) == {None: 20, "http://w1": 40, "http://w2": 40}
    assert all(workers.home(sender) == home for sender, home in homes.items())


def test_a_paused_worker_gets_no_conversations_and_its_own_move_here():
    workers = MessageWorkers(["http://w1"], TOKEN, 5, front_share=0.0)
    assert workers.home("a") == "http://w1"
    workers._pause("http://w1", 60)
    assert workers.home("a") is None and workers.home("b") is None


class StandInWorker:
    """An HTTP server answering the worker route the way the test needs."""

    def __init__(self, reply):
        self.reply = reply
        self.received = []

    async def webhook(self, request):
        self.received.append((request.headers.get("Authorization"), await request.json()))
        return await self.reply(request)

    async def __aenter__(self):
        app = web.Application()
        app.router.add_post("/webhooks/worker/webhook", self.webhook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_ports(1)[0]
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc):
        await self.runner.cleanup()


def message(sender="alice", text="怎么创建钱包"):
    return UserMessage(text, CollectingOutputChannel(), sender, input_channel="socketio",
                       metadata={"secret_redacted": ["mnemonic"]})


async def handled_here(message_):
    await message_.output_channel.send_response(message_.sender_id, {"text": "answered here"})
    return "here"


def run_turn(reply, timeout=5.0):
    """One turn through a stand-in worker: (stand-in, message, what the router returned, router)."""
    async def scenario():
        async with StandInWorker(reply) as worker:
            router = MessageWorkers([worker.url], TOKEN, timeout, front_share=0.0)
            sent = message()
            try:
                result = await router.handle(sent, handled_here)
            finally:
                await router.close()
            return worker, sent, result, router
    return asyncio.run(scenario())


def test_the_worker_runs_the_turn_and_its_messages_go_out_on_the_users_channel():
    async def reply(request):
        return web.json_response({"messages": [
            {"recipient_id": "alice", "text": "创建钱包只需一分钟", "buttons": [{"title": "好", "payload": "/affirm"}]},
            {"recipient_id": "alice", "custom": {"kind": "notice"}}]})

    worker, sent, result, router = run_turn(reply)
    authorization, body = worker.received[0]
    assert authorization == f"Bearer {TOKEN}"
    assert body["sender_id"] == "alice" and body["text"] == "怎么创建钱包" and body["input_channel"] == "socketio"
    assert body["metadata"] == {"secret_redacted": ["mnemonic"]}
    assert result is None and router.forwarded == 1
    assert [(m.get("text"), m.get("buttons"), m.get("custom")) for m in sent.output_channel.messages] == [
        ("创建钱包只需一分钟", [{"title": "好", "payload": "/affirm"}], None), (None, None, {"kind": "notice"})]


def test_a_worker_whose_tracker_store_is_down_makes_the_front_keep_the_message():
    async def reply(request):
        return web.json_response({"error": "tracker_store_unavailable"}, status=503)

    with pytest.raises(TrackerStoreUnavailable):
        run_turn(reply)


@pytest.mark.parametrize("reply_kind", ["server_error", "not_json", "too_slow"])
def test_a_failing_worker_is_answered_for_here_and_left_out_for_a_while(reply_kind):
    async def reply(request):
        if reply_kind == "too_slow":
            await asyncio.sleep(3)
        if reply_kind == "not_json":
            return web.Response(text="<html>oops</html>")
        return web.json_response({"error": "boom"}, status=500)

    worker, sent, result, router = run_turn(reply, timeout=1.0)
    assert result == "here" and [m["text"] for m in sent.output_channel.messages] == ["answered here"]
    assert router.handled_here_instead == 1 and not router._available(worker.url)


def test_an_unreachable_worker_is_answered_for_here():
    router = MessageWorkers([f"http://127.0.0.1:{free_ports(1)[0]}"], TOKEN, 5, front_share=0.0)

    async def scenario():
        try:
            return await router.handle(message(), handled_here)
        finally:
            await router.close()

    assert asyncio.run(scenario()) == "here"
    assert router.handled_here_instead == 1 and router.home("someone-new") is None


def test_a_worker_is_handed_at_most_max_in_flight_turns_first_come_first_served():
    """A flood handed every turn over at once: late first messages queued behind early conversations' later turns."""
    busy = {"now": 0, "most": 0}

    async def slow_answer(request):
        busy["now"] += 1
        busy["most"] = max(busy["most"], busy["now"])
        await asyncio.sleep(0.05)
        busy["now"] -= 1
        return web.json_response({"messages": [{"text": "ok"}]})

    async def scenario():
        async with StandInWorker(slow_answer) as worker:
            router = MessageWorkers([worker.url], TOKEN, 0.2, front_share=0.0, max_in_flight=3)
            try:
                senders = [f"user-{n}" for n in range(12)]
                # 12 turns at once, each waiting 0.05 s at the worker, 3 at a time: 0.2 s in all,
                # longer than the 0.2 s timeout would allow if waiting for a place counted
                results = await asyncio.gather(*(router.handle(message(s), handled_here) for s in senders))
            finally:
                await router.close()
            return worker, senders, results, router

    worker, senders, results, router = asyncio.run(scenario())
    assert busy["most"] == 3
    assert results == [None] * 12 and router.handled_here_instead == 0
    # in arrival order, give or take the turns running at the same time
    order = [senders.index(body["sender_id"]) for _auth, body in worker.received]
    assert sorted(order) == list(range(12)) and all(abs(at - n) < 3 for at, n in enumerate(order))


def test_the_front_opens_max_in_flight_connections_to_each_worker_before_a_flood():
    """A flood after a quiet spell opened one new connection per turn to a worker already busy."""
    peers = set()

    async def health(request):
        peers.add(request.transport.get_extra_info("peername"))
        await asyncio.sleep(0.02)  # all of them at once: one connection each
        return web.json_response({"status": "ok"})

    async def scenario():
        app = web.Application()
        app.router.add_get("/webhooks/worker/health", health)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_ports(1)[0]
        await web.TCPSite(runner, "127.0.0.1", port).start()
        router = MessageWorkers([f"http://127.0.0.1:{port}"], TOKEN, 5, front_share=0.0, max_in_flight=4)
        try:
            answered = await router.open_connections()
            again = await router.open_connections()  # kept open: the same four connections
        finally:
            await router.close()
            await runner.cleanup()
        return answered, again

    assert asyncio.run(scenario()) == (4, 4)
    assert len(peers) == 4
