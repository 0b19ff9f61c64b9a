"""Surge benchmark: an outage flood of N concurrent conversations over REST and socket.io (SPEC §6).

Each conversation sends a short script, waiting for the bot's answer between
messages as a person would: most say hello, "app打不开" and then ask for a
person; one in ten reports a theft. Afterwards every conversation's tracker
and the desk's tickets are checked against the script: a message missing from
the tracker or left without a reply is *lost*, one processed twice is
*duplicated*; tickets are expected exactly where the script escalates.

Scenarios: ``plain`` (every request for a person becomes a ticket) and
``incident`` (an incident on app_connectivity is active, so only thefts become
tickets). Targets: ``default`` starts the embedded profile (SQLite, one Rasa)
as the tests do; ``scaleout`` uses the deployment of ``scripts/scaleout.sh``
(PostgreSQL, Redis, two Rasa processes behind nginx). Numbers, not assertions:
writes ``results/surge.md`` (and ``.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import aiohttp
import socketio

from bench.report import metric_table, percentile, write_result

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ESCALATE = ["你好", "app打不开", "转人工"]
THEFT = ["你好", "我的USDT被人转走了，不是我操作的"]
ORIGIN = "http://localhost:8080"
QUIET_SECONDS = 1.0  # socket.io: a turn is over after this long without a bot message
CONNECT_ATTEMPTS = 5  # like the widget's reconnection: only connecting is retried


@dataclass
class Target:
    rasa_url: str
    desk_url: str
    rasa_token: str
    ops_token: str
    label: str


@dataclass
class Conversation:
    channel: str
    script: List[str]
    sender: str = ""
    latencies: List[float] = field(default_factory=list)
    unanswered: int = 0
    errors: List[str] = field(default_factory=list)

    @property
    def theft(self) -> bool:
        return self.script is THEFT


async def post_message(session: aiohttp.ClientSession, target: Target, sender: str, text: str) -> List[Any]:
    """As an app would: a connection that never opened is retried (nothing was sent); anything later is not."""
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            async with session.post(f"{target.rasa_url}/webhooks/rest/webhook",
                                    json={"sender": sender, "message": text}) as answer:
                if answer.status != 200:
                    raise RuntimeError(f"HTTP {answer.status}")
                return await answer.json(content_type=None)
        except aiohttp.ClientConnectorError:
            if attempt == CONNECT_ATTEMPTS - 1:
                raise
            await asyncio.sleep(1 + attempt)
    return []


async def run_rest(conversation: Conversation, target: Target, session: aiohttp.ClientSession) -> None:
    for text in conversation.script:
        started = time.monotonic()
        try:
            replies = await post_message(session, target, conversation.sender, text)
        except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError) as error:
            conversation.errors.append(repr(error))
            replies = []
        if replies:
            conversation.latencies.append(time.monotonic() - started)
        else:
            conversation.unanswered += 1


def socket_conversation(conversation: Conversation, target: Target) -> None:
    """One widget user over socket.io's websocket transport (the synchronous client: python-engineio's
    asyncio client needs a newer aiohttp than Rasa pins), waiting for the bot between messages."""
    received: List[float] = []
    changed = threading.Condition()
    confirmed = threading.Event()
    client = socketio.Client(reconnection=False, request_timeout=300, websocket_extra_options={"origin": ORIGIN})

    def on_confirm(session: Any) -> None:
        conversation.sender = session if isinstance(session, str) else (session or {}).get("session_id", "")
        confirmed.set()

    def on_bot(_data: Any) -> None:
        with changed:
            received.append(time.monotonic())
            changed.notify_all()

    client.on("session_confirm", on_confirm)
    client.on("bot_uttered", on_bot)
    try:
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                client.connect(target.rasa_url, transports=["websocket"], wait_timeout=300)
                break
            except socketio.exceptions.ConnectionError:
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise
                time.sleep(1 + attempt)
        client.emit("session_request", {"session_id": None})
        if not confirmed.wait(300):
            raise TimeoutError("no session_confirm")
        for text in conversation.script:
            mark, started = len(received), time.monotonic()
            client.emit("user_uttered", {"message": text, "session_id": conversation.sender})
            with changed:
                changed.wait_for(lambda: len(received) > mark, timeout=300)
                if len(received) == mark:
                    conversation.unanswered += 1
                    continue
                conversation.latencies.append(received[mark] - started)
                while True:  # let the rest of the turn arrive
                    seen = len(received)
                    if not changed.wait_for(lambda: len(received) > seen, timeout=QUIET_SECONDS):
                        break
    except Exception as error:  # noqa: BLE001 - counted, the flood goes on
        conversation.errors.append(repr(error))
    finally:
        client.disconnect()


async def run_socket(conversation: Conversation, target: Target, pool: ThreadPoolExecutor) -> None:
    await asyncio.get_running_loop().run_in_executor(pool, socket_conversation, conversation, target)


async def check(conversations: List[Conversation], target: Target) -> Dict[str, int]:
    """Trackers and tickets against the scripts."""
    lost = duplicated = unreplied = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        gate = asyncio.Semaphore(16)

        async def tracker(sender: str) -> List[Dict[str, Any]]:
            async with gate, session.get(f"{target.rasa_url}/conversations/{sender}/tracker",
                                         params={"token": target.rasa_token}) as answer:
                return (await answer.json())["events"] if answer.status == 200 else []

        trackers = await asyncio.gather(*(tracker(c.sender) for c in conversations))
        async with session.get(f"{target.desk_url}/api/tickets?status=all",
                               headers={"Authorization": f"Bearer {target.ops_token}"}) as answer:
            tickets = (await answer.json())["tickets"]
    for conversation, events in zip(conversations, trackers):
        said = [e.get("text") for e in events if e.get("event") == "user" and e.get("text")]
        for text in set(conversation.script):
            expected, seen = conversation.script.count(text), said.count(text)
            lost += max(0, expected - seen)
            duplicated += max(0, seen - expected)
        turns: List[int] = []  # bot messages after each user message
        for event in events:
            if event.get("event") == "user" and event.get("text"):
                turns.append(0)
            elif event.get("event") == "bot" and turns:
                turns[-1] += 1
        unreplied += sum(1 for count in turns if count == 0)
    per_conversation: Dict[str, int] = {}
    for ticket in tickets:
        per_conversation[ticket["conversation_id"]] = per_conversation.get(ticket["conversation_id"], 0) + 1
    return {"lost_messages": lost, "duplicated_messages": duplicated, "messages_without_reply_in_tracker": unreplied,
            "tickets": sum(per_conversation.get(c.sender, 0) for c in conversations),
            "duplicated_tickets": sum(max(0, per_conversation.get(c.sender, 0) - 1) for c in conversations),
            "p1_tickets": sum(1 for t in tickets if t["priority"] == "P1"
                              and t["conversation_id"] in {c.sender for c in conversations}),
            "_per_conversation": per_conversation}  # type: ignore[dict-item]


async def surge(target: Target, count: int, socket_share: float, scenario: str, seed: int) -> Dict[str, Any]:
    rng = random.Random(seed)
    conversations = []
    for n in range(count):
        script = THEFT if n % 10 == 0 else ESCALATE
        channel = "socketio" if rng.random() < socket_share else "rest"
        conversations.append(Conversation(channel=channel, script=script, sender=f"surge-{scenario}-{seed}-{n}"))
    incident_id: Optional[str] = None
    headers = {"Authorization": f"Bearer {target.ops_token}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600),
                                     connector=aiohttp.TCPConnector(limit=0, force_close=True)) as session:
        if scenario == "incident":
            async with session.post(f"{target.desk_url}/api/incidents", headers=headers, json={
                    "title": "App 无法连接", "message_zh": "节点故障，正在处理。", "message_en": "Node failure; on it.",
                    "intents": ["app_connectivity"]}) as answer:
                incident_id = (await answer.json())["id"]
            await asyncio.sleep(2.5)  # the bot's cached incident list expires
        pool = ThreadPoolExecutor(max_workers=max(1, sum(c.channel == "socketio" for c in conversations)))
        started = time.monotonic()
        await asyncio.gather(*(run_rest(c, target, session) if c.channel == "rest" else run_socket(c, target, pool)
                               for c in conversations))
        wall = time.monotonic() - started
        pool.shutdown()
        if incident_id:
            async with session.post(f"{target.desk_url}/api/incidents/{incident_id}/resolve", headers=headers,
                                    json={"message_zh": "已恢复", "message_en": "Fixed"}) as answer:
                await answer.read()
    await asyncio.sleep(3)  # escalations are synchronous; this only lets late socket messages land
    verdict = await check(conversations, target)
    per_conversation = verdict.pop("_per_conversation")
    expected = [1 if (c.theft or scenario == "plain") else 0 for c in conversations]
    got = [min(1, per_conversation.get(c.sender, 0)) for c in conversations]
    latencies = [x for c in conversations for x in c.latencies]
    sent = sum(len(c.script) for c in conversations)
    return {
        "target": target.label,
        "scenario": scenario,
        "conversations": count,
        "over_socketio": sum(1 for c in conversations if c.channel == "socketio"),
        "messages_sent": sent,
        "messages_answered": len(latencies),
        "messages_unanswered_at_client": sum(c.unanswered for c in conversations),
        **verdict,
        "tickets_expected": sum(expected),
        "tickets_missing": sum(1 for e, g in zip(expected, got) if e and not g),
        "tickets_unexpected": sum(1 for e, g in zip(expected, got) if g and not e),
        "client_errors": sum(len(c.errors) for c in conversations),
        "client_error_samples": sorted({e[:120] for c in conversations for e in c.errors})[:3],
        "wall_seconds": round(wall, 1),
        "throughput_msg_per_s": round(sent / wall, 1),
        "latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "latency_p99_s": round(percentile(latencies, 99), 2) if latencies else None,
        "latency_max_s": round(max(latencies), 2) if latencies else None,
    }


def default_target(work: Path) -> Any:
    from tests.servers import start_stack

    stack = start_stack(work, debug=False, shared_model=True)  # as make run
    return stack, Target(stack.rasa_url, stack.desk_url, stack.api_token, stack.ops_token(), "default (SQLite, Rasa + 1 worker)")


def scaleout_target() -> Target:
    info = json.loads((PROJECT_ROOT / "var/scaleout/target.json").read_text())
    return Target(info["rasa_url"], info["desk_url"], info["rasa_token"], info["ops_token"],
                  "scale-out (PostgreSQL, Redis, 2 Rasa behind nginx)")


def write(results: List[Dict[str, Any]], out: Path) -> str:
    intro = ("An outage flood: N concurrent conversations, 40 % over socket.io and 60 % over REST, each waiting for the "
             "bot between messages. 9 in 10 say 你好 / app打不开 / 转人工, 1 in 10 reports a theft. Afterwards every "
             "tracker and the desk's tickets are checked against the scripts (`bench/surge_bench.py`). "
             "`make bench-surge-scaleout` runs it on the scale-out profile (and starts and stops it).")
    columns = [f"{r['target']} · {r['scenario']}" for r in results]
    return write_result(out, "Surge benchmark", intro, metric_table(columns, results, skip=["target", "scenario"]), results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--socketio-share", type=float, default=0.4)
    parser.add_argument("--target", choices=["default", "scaleout", "both"], default="default")
    parser.add_argument("--scenarios", default="plain,incident")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results/surge")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs in a temporary folder")
    args = parser.parse_args()
    results: List[Dict[str, Any]] = []
    previous = args.out.with_suffix(".json")
    if previous.exists():  # keep the other target's rows
        results = [r for r in json.loads(previous.read_text()) if not r["target"].startswith(
            "default" if args.target in ("default", "both") else "scale-out")]
    targets = ["default", "scaleout"] if args.target == "both" else [args.target]
    for name in targets:
        with tempfile.TemporaryDirectory(prefix="surge-bench-") as work:
            if args.keep_logs:
                work = tempfile.mkdtemp(prefix="surge-bench-logs-")
                print(f"logs in {work}")
            stack = None
            if name == "default":
                stack, target = default_target(Path(work))
            else:
                target = scaleout_target()
            try:
                for seed, scenario in enumerate(args.scenarios.split(",")):
                    result = asyncio.run(surge(target, args.conversations, args.socketio_share, scenario, seed + int(time.time())))
                    print(json.dumps(result, ensure_ascii=False))
                    results.append(result)
            finally:
                if stack is not None:
                    stack.stop()
    results.sort(key=lambda r: (not r["target"].startswith("default"), r["scenario"]))
    print(write(results, args.out))


if __name__ == "__main__":
    main()
