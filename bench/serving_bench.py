"""Serving benchmark: REST throughput and latency at 1, 8, 32 and 128 concurrent conversations, stock Rasa vs this project.

Same model, same machine, one session, the two servers alternating at each
concurrency level. *Stock* is ``rasa run`` with Rasa's ``rest`` channel, its
SQLTrackerStore on SQLite and the action server called over HTTP for every
custom action. *This project* is the production configuration (`make run`):
our channels on the front Rasa process with one Rasa worker process running
the turns, the in-process action gateway (FAQ answers run in the Rasa
process), ``CachingSQLTrackerStore`` on SQLite, the file lock store and the
desk. Each of C
conversations sends a mix of FAQ and chit-chat messages, waiting for each
reply, until the level's message budget is spent. *Real words* is the same at 32
conversations with messages real users wrote (``tests/nlu/real_heldout.tsv``, both
languages, three in four longer than one sentence, no text sent twice): the cost the
sentence encoder and clause triage add, which the short mix, answered from caches,
does not show. The *flood* (issue #21) is 128
new conversations at once, each sending 4 messages, run in alternating rounds on
stock Rasa, this project and this project with ``RASA_OPTIMISATIONS=off``; after it
the memory of every process of each side is read (RSS, PSS, and the group's
own: private pages plus the largest process's shared ones). Writes ``results/serving.md``
(and ``.json``). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import aiohttp

from bench.nlu_real import load_heldout
from bench.report import percentile, write_result
from bench.stock import StockRasa
from tests.servers import RunningStack, start_stack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIX = ["你好", "怎么创建钱包", "gas费是什么", "app打不开", "怎么备份助记词", "谢谢", "支持哪些链", "怎么添加代币"]
LEVELS = (1, 8, 32, 128)
REAL_WORDS_CONCURRENCY, REAL_WORDS_MESSAGES = 32, 512
FLOOD_CONVERSATIONS, FLOOD_MESSAGES_EACH, FLOOD_ROUNDS = 128, 4, 3


def real_words(count: int) -> List[str]:
    """``count`` different messages real users wrote, both languages, in a fixed shuffled order."""
    texts = list(dict.fromkeys(example.text for example in load_heldout()))
    random.Random(7).shuffle(texts)
    return texts[:count]


async def load(url: str, concurrency: int, messages: int, keep_latencies: bool = False,
               texts: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """C conversations until ``messages`` are answered: the short MIX in turn, or each of ``texts`` once."""
    latencies: List[float] = []
    failures = 0
    budget = [messages]

    async def user(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal failures
        sender = f"serve-{secrets.token_hex(4)}-{index}"
        turn = 0
        while budget[0] > 0:
            budget[0] -= 1
            text = MIX[(index + turn) % len(MIX)] if texts is None else texts[budget[0] % len(texts)]
            started = time.monotonic()
            try:
                async with session.post(f"{url}/webhooks/rest/webhook",
                                        json={"sender": sender, "message": text}) as answer:
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
    return {**summarise(latencies, failures, wall), **({"latencies": latencies, "wall_s": wall} if keep_latencies else {})}


def summarise(latencies: List[float], failures: int, wall: float) -> Dict[str, Any]:
    if not latencies:
        return {"messages": 0, "failed": failures, "throughput_msg_s": 0.0, "p50_ms": None, "p95_ms": None, "p99_ms": None}
    return {"messages": len(latencies), "failed": failures, "throughput_msg_s": round(len(latencies) / wall, 1),
            "p50_ms": round(statistics.median(latencies) * 1000), "p95_ms": round(percentile(latencies, 95) * 1000),
            "p99_ms": round(percentile(latencies, 99) * 1000)}


def memory_mb(pids: Dict[str, int]) -> Dict[str, Any]:
    """RSS, PSS and USS (private pages) per process, and the group's memory.

    PSS counts a page shared by n processes 1/n in each, but the n include every process on the
    machine mapping the same library files (other Rasa servers too), so it falls as more run.
    The group's own estimate does not: its private pages plus the largest process's shared pages
    (the Rasa processes share the same libraries, which the others mostly map too).
    """
    per: Dict[str, Dict[str, int]] = {}
    for name, pid in pids.items():
        values = {"rss": 0, "pss": 0, "uss": 0}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                values[key.lower()] = int(rest.split()[0]) // 1024
            elif key in ("Private_Clean", "Private_Dirty"):
                values["uss"] += int(rest.split()[0]) // 1024
        per[name] = values
    uss = sum(v["uss"] for v in per.values())
    return {"per_process": per, "rss_total_mb": sum(v["rss"] for v in per.values()),
            "pss_total_mb": sum(v["pss"] for v in per.values()), "uss_total_mb": uss,
            "group_mb": uss + max((v["rss"] - v["uss"] for v in per.values()), default=0)}


def flood(sides: Dict[str, Any], rounds: int = FLOOD_ROUNDS) -> List[Dict[str, Any]]:
    """128 new conversations at once, 4 messages each, on every side in alternating rounds; one row per side."""
    runs: Dict[str, List[Dict[str, Any]]] = {label: [] for label in sides}
    for round_ in range(rounds):
        order = list(sides.items())
        if round_ % 2:
            order.reverse()
        for label, side in order:
            runs[label].append(asyncio.run(load(side.url, FLOOD_CONVERSATIONS,
                                                FLOOD_CONVERSATIONS * FLOOD_MESSAGES_EACH, keep_latencies=True)))
    rows = []
    for label, side in sides.items():
        latencies = [value for run in runs[label] for value in run["latencies"]]
        row = {"server": label, "concurrency": FLOOD_CONVERSATIONS, "scenario": "flood",
               "messages_per_conversation": FLOOD_MESSAGES_EACH, "rounds": rounds,
               **summarise(latencies, sum(run["failed"] for run in runs[label]), sum(run["wall_s"] for run in runs[label])),
               "rounds_p99_ms": [round(percentile(run["latencies"], 99) * 1000) for run in runs[label]],
               "rounds_msg_s": [run["throughput_msg_s"] for run in runs[label]],
               "memory": memory_mb(side.pids)}
        rows.append(row)
        print(json.dumps(row))
    return rows


class _Side:
    def __init__(self, url: str, pids: Dict[str, int]) -> None:
        self.url, self.pids = url, pids


def _ours(stack: RunningStack) -> _Side:
    return _Side(stack.rasa_url, stack.server_pids())


def run(budget_per_level: int, levels: Sequence[int] = LEVELS, flood_rounds: int = FLOOD_ROUNDS,
        real_messages: int = REAL_WORDS_MESSAGES) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as work_dir:
        work = Path(work_dir)
        stock = StockRasa(work / "stock")
        ours = start_stack(work / "ours", debug=False, shared_model=True)  # as make run
        off = (start_stack(work / "ours-off", debug=False, shared_model=True,
                           extra_env={"RASA_OPTIMISATIONS": "off"})
               if flood_rounds else None)
        try:
            if off is not None:  # first, on fresh servers: a flood of new conversations (issue #21)
                sides = {"stock": _Side(stock.url, {"rasa": stock.processes[1].pid, "actions": stock.processes[0].pid}),
                         "ours": _ours(ours), "ours, optimisations off": _ours(off)}
                for label, side in sides.items():
                    warm = asyncio.run(load(side.url, 4, 40))  # model and caches warm, as after a start
                    if warm["failed"]:
                        print(f"warning: {label} failed {warm['failed']} of 40 warm-up messages")
                rows += flood(sides, flood_rounds)
                off.stop()
            for label, url in (("stock", stock.url), ("ours", ours.rasa_url)):  # warm both up
                asyncio.run(load(url, 4, 40))
            for level in levels:
                # Every conversation sends about 16 messages, so the first burst of new conversations
                # (session starts) is a sixteenth of the sample, as in steady traffic.
                messages = max(budget_per_level, level * 16)
                # Alternate the order per level so neither always runs on a warmer machine.
                order = [("stock", stock.url), ("ours", ours.rasa_url)]
                if level in (8, 128):
                    order.reverse()
                for label, url in order:
                    rows.append({"server": label, "concurrency": level, "scenario": "steady",
                                 **asyncio.run(load(url, level, messages))})
                    print(json.dumps(rows[-1]))
            if real_messages:
                texts = real_words(real_messages)
                for label, url in (("ours", ours.rasa_url), ("stock", stock.url)):
                    rows.append({"server": label, "concurrency": REAL_WORDS_CONCURRENCY, "scenario": "real words",
                                 **asyncio.run(load(url, REAL_WORDS_CONCURRENCY, len(texts), texts=texts))})
                    print(json.dumps(rows[-1]))
        finally:
            stock.stop()
            ours.stop()
            if off is not None:
                off.stop()
    return rows


def write(rows: List[Dict[str, Any]], out: Path) -> str:
    steady = [r for r in rows if r.get("scenario", "steady") == "steady"]
    floods = [r for r in rows if r.get("scenario") == "flood"]
    real = [r for r in rows if r.get("scenario") == "real words"]
    lines = ["| concurrency | server | messages | failed | msg/s | p50 ms | p95 ms | p99 ms |",
             "|---|---|---|---|---|---|---|---|"]
    for row in sorted(steady, key=lambda r: (r["concurrency"], r["server"] != "stock")):
        lines.append(f"| {row['concurrency']} | {row['server']} | {row['messages']} | {row['failed']} | "
                     f"{row['throughput_msg_s']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} |")
    lines += ["", "| concurrency | throughput ours/stock | p99 ours/stock |", "|---|---|---|"]
    for level in sorted({r["concurrency"] for r in steady}):
        pair = {r["server"]: r for r in steady if r["concurrency"] == level}
        if len(pair) == 2:
            lines.append(f"| {level} | {pair['ours']['throughput_msg_s'] / pair['stock']['throughput_msg_s']:.2f}× | "
                         f"{pair['ours']['p99_ms'] / pair['stock']['p99_ms']:.2f}× |")
    if real:
        short = {r["server"]: r for r in steady if r["concurrency"] == REAL_WORDS_CONCURRENCY}
        lines += ["", f"Real words: {REAL_WORDS_CONCURRENCY} conversations, {real[0]['messages'] + real[0]['failed']} "
                      "different messages real users wrote (both languages), each sent once.", "",
                  "| server | messages | failed | msg/s | p50 ms | p95 ms | p99 ms | msg/s against the short mix at the same concurrency |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in real:
            base = short.get(row["server"])
            ratio = f"{row['throughput_msg_s'] / base['throughput_msg_s']:.2f}×" if base else ""
            lines.append(f"| {row['server']} | {row['messages']} | {row['failed']} | {row['throughput_msg_s']} | "
                         f"{row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | {ratio} |")
    if floods:
        stock = next((r for r in floods if r["server"] == "stock"), None)
        lines += ["", f"Flood: {FLOOD_CONVERSATIONS} new conversations at once, {FLOOD_MESSAGES_EACH} messages each, "
                      f"{floods[0]['rounds']} alternating rounds per server (percentiles over all rounds).", "",
                  "| server | messages | failed | msg/s (per round) | p50 ms | p95 ms | p99 ms (per round) | "
                  "vs stock: msg/s, p99 | memory MB: RSS / PSS / group |", "|---|---|---|---|---|---|---|---|---|"]
        for row in floods:
            versus = (f"{row['throughput_msg_s'] / stock['throughput_msg_s']:.2f}×, {row['p99_ms'] / stock['p99_ms']:.2f}×"
                      if stock and row is not stock else "")
            lines.append(f"| {row['server']} | {row['messages']} | {row['failed']} | {row['throughput_msg_s']} "
                         f"({', '.join(map(str, row['rounds_msg_s']))}) | {row['p50_ms']} | {row['p95_ms']} | "
                         f"{row['p99_ms']} ({', '.join(map(str, row['rounds_p99_ms']))}) | {versus} | "
                         f"{row['memory']['rss_total_mb']} / {row['memory']['pss_total_mb']} / "
                         f"{row['memory'].get('group_mb')} |")
    return write_result(out, "Serving benchmark", __doc__.split("\n\n")[1].replace("\n", " "), lines, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300, help="messages per server and level")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results/serving")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="steady levels, comma-separated ('' for none)")
    parser.add_argument("--flood-rounds", type=int, default=FLOOD_ROUNDS, help="rounds of the flood per server (0: none)")
    parser.add_argument("--real-messages", type=int, default=REAL_WORDS_MESSAGES,
                        help="real users' messages sent at 32 conversations (0: none)")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",") if level.strip()]
    print(write(run(args.messages, levels, args.flood_rounds, args.real_messages), args.out))


if __name__ == "__main__":
    main()
