"""Cold-start benchmark: full training time, server start to first answer, memory per process.

Training: ``rasa train`` of this project from scratch, as ``make train`` runs it (its flags: ``TRAIN_FLAGS``),
with an empty Rasa cache and an empty cache of the training texts' sentence embeddings, so nothing is
reused; timed. Start: from spawning the servers to the first REST
answer, for this project's `make run` configuration (front Rasa, worker Rasa,
action server, desk) and for stock ``rasa run`` with its action server, the same
model. Memory: each process's resident set after 50 messages. Writes
``results/coldstart.md`` (and ``.json``). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import requests
import yaml

from bench.report import metric_table, write_result
from bench.stock import StockRasa
from tests.servers import start_stack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WARM_UP = ["你好", "怎么创建钱包", "gas费是什么", "app打不开", "谢谢"]
# The flags scripts/train.sh (make train) gives ``rasa train`` besides the project's paths: Rasa's
# validation runs in the test suite and `make validate` instead (tests/unit/test_coldstart_bench.py pins them).
TRAIN_FLAGS = ["--skip-validation"]


def cold_config(work: Path) -> Path:
    """``config.yml`` with the sentence featurizer's training cache in ``work``: every embedding computed."""
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    featurizers = [c for c in config["pipeline"] if c["name"] == "nlu.sentence_features.EnglishSentenceFeaturizer"]
    for featurizer in featurizers:
        featurizer["training_cache"] = str(work / "sentence-embeddings.sqlite")
    path = work / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def training_seconds(work: Path) -> float:
    """A full training into ``work`` with Rasa's cache and the training texts' embedding cache both empty."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RASA_CACHE_DIRECTORY": str(work / "cache")}
    config = cold_config(work)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "rasa", "train", "--domain", "domain", "--data", "data", "--config",
                    str(config), "--out", str(work / "models"), "--fixed-model-name", "coldstart", *TRAIN_FLAGS],
                   cwd=PROJECT_ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return round(time.monotonic() - started, 1)


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def first_answer(url: str) -> None:
    answer = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": "cold", "message": "你好"}, timeout=120)
    answer.raise_for_status()


def warm_and_measure(url: str, processes: Dict[str, int]) -> Dict[str, int]:
    for n in range(50):
        requests.post(f"{url}/webhooks/rest/webhook", json={"sender": f"warm-{n % 10}", "message": WARM_UP[n % 5]},
                      timeout=120).raise_for_status()
    return {name: rss_mb(pid) for name, pid in processes.items()}


def run(skip_training: bool) -> Dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="coldstart-bench-") as work_dir:
        work = Path(work_dir)
        result: Dict[str, object] = {}
        if not skip_training:
            result["training_seconds"] = training_seconds(work / "train")
            print(f"full training: {result['training_seconds']} s", flush=True)
        started = time.monotonic()
        stock = StockRasa(work / "stock")
        try:
            first_answer(stock.url)
            seconds = round(time.monotonic() - started, 1)
            result["stock"] = {"first_answer_seconds": seconds, "rss_mb": warm_and_measure(
                stock.url, {"rasa": stock.processes[1].pid, "actions": stock.processes[0].pid})}
        finally:
            stock.stop()
        started = time.monotonic()
        ours = start_stack(work / "ours", debug=False, shared_model=True)  # as make run
        try:
            first_answer(ours.rasa_url)
            seconds = round(time.monotonic() - started, 1)
            pids = ours.server_pids()
            result["ours"] = {"first_answer_seconds": seconds, "rss_mb": warm_and_measure(ours.rasa_url, pids)}
        finally:
            ours.stop()
    return result


def write(result: Dict[str, object], out: Path) -> str:
    rows: List[Dict[str, object]] = []
    for side in ("stock", "ours"):
        data = result[side]
        rows.append({"server": side, "start to first answer, s": data["first_answer_seconds"],
                     **{f"RSS {name}, MB": mb for name, mb in data["rss_mb"].items()},
                     "RSS total, MB": sum(data["rss_mb"].values())})
    keys = {key for row in rows for key in row}
    rows = [{key: row.get(key, "") for key in ["server"] + sorted(keys - {"server"})} for row in rows]
    lines = [f"Full training of this project from an empty cache: **{result.get('training_seconds', 'not run')} s**.",
             "", *metric_table([str(r["server"]) for r in rows], rows, skip=["server"])]
    return write_result(out, "Cold-start benchmark", __doc__.split("\n\n")[1].replace("\n", " "), lines, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results/coldstart")
    args = parser.parse_args()
    print(write(run(args.skip_training), args.out))


if __name__ == "__main__":
    main()
