"""Escalation benchmark: time from a user's message to its ticket being visible in the desk's API.

Starts the real servers (action server, Rasa, desk on fresh SQLite files, as the
tests do), sends N theft reports over REST from distinct users, a few at a
time, while a poller lists ``GET /api/tickets?status=open`` as fast as it can.
For each user: message sent -> first API listing that contains their ticket.
Writes ``results/escalation.md``. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Optional

import requests

from bench.report import metric_table, percentile, write_result
from tests.servers import start_stack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ["我的USDT被人转走了，不是我操作的", "钱包被盗了，币全没了", "someone drained my wallet", "我的币被偷了怎么办"]


def run(count: int, concurrency: int) -> Dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="escalation-bench-") as work:
        stack = start_stack(Path(work))
        try:
            sent: Dict[str, float] = {}
            replied: Dict[str, float] = {}
            seen: Dict[str, float] = {}
            stop = threading.Event()
            polls = [0]

            def poll() -> None:
                session = requests.Session()
                headers = {"Authorization": f"Bearer {stack.ops_token()}"}
                while not stop.is_set():
                    listing = session.get(f"{stack.desk_url}/api/tickets?status=open", headers=headers, timeout=30).json()
                    now = time.monotonic()
                    polls[0] += 1
                    for ticket in listing["tickets"]:
                        seen.setdefault(ticket["conversation_id"], now)

            def user(index: int) -> Optional[str]:
                sender = f"bench-{index}"
                sent[sender] = time.monotonic()
                stack.send(MESSAGES[index % len(MESSAGES)], sender=sender)
                replied[sender] = time.monotonic()
                return sender

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            started = time.monotonic()
            with ThreadPoolExecutor(concurrency) as pool:
                senders = list(pool.map(user, range(count)))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not all(s in seen for s in senders):
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            stop.set()
            poller.join(timeout=30)
            visible = [(seen[s] - sent[s]) * 1000 for s in senders if s in seen]
            reply = [(replied[s] - sent[s]) * 1000 for s in senders]
            tickets = requests.get(f"{stack.desk_url}/api/tickets?status=open",
                                   headers={"Authorization": f"Bearer {stack.ops_token()}"}, timeout=30).json()["tickets"]
            return {
                "escalations": count,
                "concurrency": concurrency,
                "tickets_created": len({t["conversation_id"] for t in tickets if t["conversation_id"].startswith("bench-")}),
                "p1_tickets": sum(1 for t in tickets if t["priority"] == "P1"),
                "never_visible": count - len(visible),
                "visible_ms_median": round(statistics.median(visible), 1),
                "visible_ms_p99": round(percentile(visible, 99), 1),
                "visible_ms_max": round(max(visible), 1),
                "reply_ms_median": round(statistics.median(reply), 1),
                "reply_ms_p99": round(percentile(reply, 99), 1),
                "api_polls": polls[0],
                "wall_seconds": round(elapsed, 1),
            }
        finally:
            stack.stop()


def write(result: Dict[str, object], out: Path) -> str:
    intro = (f"{result['escalations']} theft reports over REST from distinct users, {result['concurrency']} at a time, "
             "against the real action server, Rasa and desk (SQLite). \"Visible\" is the time from sending the message "
             "to the first `GET /api/tickets?status=open` listing that contains the ticket (the poller lists continuously).")
    return write_result(out, "Escalation benchmark", intro, metric_table(["value"], [result]), result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results/escalation")
    args = parser.parse_args()
    print(write(run(args.count, args.concurrency), args.out))


if __name__ == "__main__":
    main()
