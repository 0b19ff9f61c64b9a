"""Serving benchmark: REST throughput and latency at 1, 8, 32 and 128 concurrent conversations, stock Rasa vs this project.

Same model, same machine, one session, the two servers alternating at each
concurrency level. *Stock* is ``rasa run`` with Rasa's ``rest`` channel, its
SQLTrackerStore on SQLite and the action server called over HTTP for every
custom action. *This project* is the production configuration (`make run`):
our channels on the front Rasa process with one Rasa worker process running
most turns, the in-process action gateway (FAQ answers run in the Rasa
process), ``CachingSQLTrackerStore`` on SQLite, the file lock store and the
desk. Each of C
conversations sends a mix of FAQ and chit-chat messages, waiting for each
reply, until the level's message budget is spent. Writes ``results/serving.md``
(and ``.json``). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import aiohttp

from bench.report import percentile, write_result
from bench.stock import StockRasa
from tests.servers import start_stack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIX = ["你好", "怎么创建钱包", "gas费是什么", "app打不开", "怎么备份助记词", "谢谢", "支持哪些链", "怎么添加代币"]
LEVELS = (1, 8, 32, 128)


async def load(url: str, concurrency: int, messages: int) -> Dict[str, Any]:
    latencies: List[float] = []
    failures = 0
    budget = [messages]

    async def user(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal failures
        sender = f"serve-{secrets.token_hex(4)}-{index}"
        turn = 0
        while budget[0] > 0:
            budget[0] -= 1
            started = time.monotonic()
            try:
                async with session.post(f"{url}/webhooks/rest/webhook",
                                        json={"sender": sender, "message": MIX[(index + turn) % len(MIX)]}) as answer:
                    body = await answer.json(content_type=None)
                    if answer.status != 200 or not body:
                        failures += 1
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError):
                failures += 1
                continue
            latencies.append(time.monotonic() - started)
            turn += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300),
                                     connector=aiohttp.TCPConnector(limit=0)) as session:
        started = time.monotonic()
        await asyncio.gather(*(user(session, n) for n in range(concurrency)))
        wall = time.monotonic() - started
    return {"messages": len(latencies), "failed": failures, "throughput_msg_s": round(len(latencies) / wall, 1),
            "p50_ms": round(statistics.median(latencies) * 1000), "p95_ms": round(percentile(latencies, 95) * 1000),
            "p99_ms": round(percentile(latencies, 99) * 1000)}


def run(budget_per_level: int) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as work_dir:
        work = Path(work_dir)
        stock = StockRasa(work / "stock")
        ours = start_stack(work / "ours", debug=False)
        try:
            for label, url in (("stock", stock.url), ("ours", ours.rasa_url)):  # warm both up
                asyncio.run(load(url, 4, 40))
            for level in LEVELS:
                # Every conversation sends about 16 messages, so the first burst of new conversations
                # (session starts) is a sixteenth of the sample, as in steady traffic.
                messages = max(budget_per_level, level * 16)
                # Alternate the order per level so neither always runs on a warmer machine.
                order = [("stock", stock.url), ("ours", ours.rasa_url)]
                if level in (8, 128):
                    order.reverse()
                for label, url in order:
                    rows.append({"server": label, "concurrency": level, **asyncio.run(load(url, level, messages))})
                    print(json.dumps(rows[-1]))
        finally:
            stock.stop()
            ours.stop()
    return rows


def write(rows: List[Dict[str, Any]], out: Path) -> str:
    lines = ["| concurrency | server | messages | failed | msg/s | p50 ms | p95 ms | p99 ms |",
             "|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["concurrency"], r["server"] != "stock")):
        lines.append(f"| {row['concurrency']} | {row['server']} | {row['messages']} | {row['failed']} | "
                     f"{row['throughput_msg_s']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} |")
    lines += ["", "| concurrency | throughput ours/stock | p99 ours/stock |", "|---|---|---|"]
    for level in LEVELS:
        pair = {r["server"]: r for r in rows if r["concurrency"] == level}
        if len(pair) == 2:
            lines.append(f"| {level} | {pair['ours']['throughput_msg_s'] / pair['stock']['throughput_msg_s']:.2f}× | "
                         f"{pair['ours']['p99_ms'] / pair['stock']['p99_ms']:.2f}× |")
    return write_result(out, "Serving benchmark", __doc__.split("\n\n")[1].replace("\n", " "), lines, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300, help="messages per server and level")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results/serving")
    args = parser.parse_args()
    print(write(run(args.messages), args.out))


if __name__ == "__main__":
    main()
