"""Growth benchmark: per-turn latency as one conversation grows to 800 turns, stock Rasa vs this project.

Both servers run the same model over REST on this machine, one after the
other: stock ``rasa run`` with Rasa's ``rest`` channel and its SQL tracker
store (SQLite), and this project's configuration (our channels, the action
gateway, ``CachingSQLTrackerStore`` on SQLite). One conversation sends 800
messages, alternating 你好 / 谢谢 (answered by responses, so the action server
is not what is measured), waiting for each reply. Reported: the median latency
of the 10 turns around turns 1, 100, 400 and 800, and the ratio turn 800 / turn 1.
Writes ``results/growth.md`` (and ``.json``). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import requests

from bench.report import metric_table, write_result
from bench.stock import StockRasa
from tests.servers import start_stack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ["你好", "谢谢"]
MARKS = (1, 100, 400, 800)


def converse(rasa_url: str, turns: int) -> List[float]:
    sender = f"growth-{secrets.token_hex(4)}"
    session = requests.Session()
    latencies = []
    for n in range(turns):
        started = time.monotonic()
        answer = session.post(f"{rasa_url}/webhooks/rest/webhook",
                              json={"sender": sender, "message": MESSAGES[n % 2]}, timeout=300)
        answer.raise_for_status()
        if not answer.json():
            raise RuntimeError(f"turn {n + 1} got no reply")
        latencies.append(time.monotonic() - started)
    return latencies


def at_marks(latencies: List[float]) -> Dict[str, float]:
    """Median of the 10 turns ending at each mark (turn 1: turns 1-10 of a fresh conversation)."""
    result = {}
    for mark in MARKS:
        if mark <= len(latencies):
            window = latencies[max(0, mark - 10):mark] if mark > 1 else latencies[:10]
            result[f"turn_{mark}_ms"] = round(statistics.median(window) * 1000, 1)
    return result


def run(turns: int, servers: List[str]) -> List[Dict[str, object]]:
    results = []
    measured = []
    with tempfile.TemporaryDirectory(prefix="growth-bench-") as work_dir:
        work = Path(work_dir)
        if "stock" in servers:
            stock = StockRasa(work / "stock")
            try:
                measured.append(("stock rasa run (SQLTrackerStore)", converse(stock.url, turns)))
            finally:
                stock.stop()
            print("stock:", json.dumps(at_marks(measured[-1][1])), flush=True)
        if "ours" in servers:
            stack = start_stack(work / "ours", debug=False)
            try:
                measured.append(("this project (CachingSQLTrackerStore)", converse(stack.rasa_url, turns)))
            finally:
                stack.stop()
    for label, latencies in measured:
        marks = at_marks(latencies)
        last = max(mark for mark in MARKS if mark <= turns)
        results.append({"server": label, "turns": turns, **marks,
                        f"growth_turn_{last}_vs_turn_1": round(marks[f"turn_{last}_ms"] / marks["turn_1_ms"], 2),
                        "total_seconds": round(sum(latencies), 1)})
    return results


def write(results: List[Dict[str, object]], out: Path) -> str:
    return write_result(out, "Growth benchmark", __doc__.split("\n\n")[1].replace("\n", " "),
                        metric_table([str(r["server"]) for r in results], results, skip=["server"]), results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=800)
    parser.add_argument("--servers", default="stock,ours")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results/growth")
    args = parser.parse_args()
    print(write(run(args.turns, args.servers.split(",")), args.out))


if __name__ == "__main__":
    main()
