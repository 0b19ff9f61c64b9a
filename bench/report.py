"""What the benchmarks share (machine line, percentiles, metric tables, result files) and ``results/bench.md``.

Each benchmark writes its own ``results/<name>.md`` and ``.json``; ``python -m
bench.report`` (the last step of ``make bench``) reads those JSON files and
writes one table, stock Rasa next to this project, with the issue's targets.
"""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "results"


def machine() -> str:
    """One line: CPU model, cores, memory, Python, OS."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal"))
        memory = f", {memory_kb / 1024 ** 2:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        memory = ""
    return (f"{model}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 300 values is the 297th smallest)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def metric_table(columns: Sequence[str], results: Sequence[Dict[str, Any]], skip: Iterable[str] = ()) -> List[str]:
    """Markdown rows: one per metric, one column per result."""
    skipped = set(skip)
    keys = [k for k in results[0] if k not in skipped]
    return ["| metric | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns),
            *[f"| {key} | " + " | ".join(str(r.get(key)) for r in results) + " |" for key in keys]]


def write_result(out: Path, title: str, intro: str, lines: Sequence[str], data: Any) -> str:
    """``out``.md (title, intro, machine, ``lines``) and ``out``.json (``data``); returns the markdown."""
    text = "\n".join([f"# {title}", "", intro, "", f"Machine: {machine()}. Regenerate with `make bench`.", "",
                      *lines, ""])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return text


def _load(name: str) -> Optional[Any]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _ratio(ours: Optional[float], stock: Optional[float]) -> str:
    return f"{ours / stock:.2f}×" if ours is not None and stock else ""


def _check(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _flood_rows(serving: List[Dict[str, Any]], row: Any, verdicts: List[str]) -> None:
    """The flood of new conversations (issue #21): stock, ours, ours with the optimisations off; memory."""
    floods = {r["server"]: r for r in serving if r.get("scenario") == "flood"}
    stock, ours = floods.get("stock"), floods.get("ours")
    if not stock or not ours:
        return
    label = f"Flood: {ours['concurrency']} new conversations × {ours['messages_per_conversation']} messages"
    for name in [n for n in floods if n not in ("stock", "ours")]:
        other = floods[name]
        row(label, f"{name}: msg/s, p99 ms", None, f"{other['throughput_msg_s']}, {other['p99_ms']}",
            f"ours with them on: {_ratio(ours['throughput_msg_s'], other['throughput_msg_s'])} msg/s, "
            f"p99 {_ratio(ours['p99_ms'], other['p99_ms'])}")
    row(label, "msg/s", stock["throughput_msg_s"], ours["throughput_msg_s"],
        _ratio(ours["throughput_msg_s"], stock["throughput_msg_s"]))
    row(label, "p50 / p95 / p99 ms", f"{stock['p50_ms']} / {stock['p95_ms']} / {stock['p99_ms']}",
        f"{ours['p50_ms']} / {ours['p95_ms']} / {ours['p99_ms']}", f"p99 {_ratio(ours['p99_ms'], stock['p99_ms'])}")
    row(label, "failed requests", stock["failed"], ours["failed"])
    memory = {side: floods[side]["memory"] for side in ("stock", "ours")}
    row(label, "memory of all processes after it, RSS / PSS / group MB",
        f"{memory['stock']['rss_total_mb']} / {memory['stock']['pss_total_mb']} / {memory['stock'].get('group_mb')}",
        f"{memory['ours']['rss_total_mb']} / {memory['ours']['pss_total_mb']} / {memory['ours'].get('group_mb')}",
        "group: private pages + the largest process's shared pages (PSS falls as other servers share libraries)")
    verdicts.append(f"- Flood throughput ≥ 5× stock: {_ratio(ours['throughput_msg_s'], stock['throughput_msg_s'])}, "
                    f"{_check(ours['throughput_msg_s'] >= 5 * stock['throughput_msg_s'])}.")
    verdicts.append(f"- Flood p99 ≤ 2 s: {ours['p99_ms']} ms, {_check(ours['p99_ms'] <= 2000)}; ≤ 0.2× stock: "
                    f"{_ratio(ours['p99_ms'], stock['p99_ms'])}, {_check(ours['p99_ms'] <= 0.2 * stock['p99_ms'])}; "
                    f"failed: {ours['failed']}, {_check(ours['failed'] == 0)}.")
    group = memory["ours"].get("group_mb") or memory["ours"]["rss_total_mb"]
    verdicts.append(f"- Memory of all processes ≤ 1.2 GB after the flood: {group} MB (private pages + shared "
                    f"libraries once), {_check(group <= 1229)}; PSS {memory['ours']['pss_total_mb']} MB, RSS "
                    f"{memory['ours']['rss_total_mb']} MB; account in results/profile.md.")


def summary() -> str:
    """results/bench.md: every benchmark's headline numbers in one table."""
    rows: List[str] = []
    verdicts: List[str] = []

    def row(area: str, metric: str, stock: Any, ours: Any, note: str = "") -> None:
        rows.append(f"| {area} | {metric} | {'' if stock is None else stock} | {'' if ours is None else ours} | {note} |")

    nlu = _load("nlu")
    if nlu:
        ours, default = nlu["summary"], (nlu.get("default_pipeline") or {}).get("summary", {})
        for key, label in [("in_scope_accuracy", "in-scope accuracy"), ("macro_f1", "macro F1 over intents"),
                           ("theft_recall", "suspected_theft recall"), ("theft_precision", "suspected_theft precision"),
                           ("oos_handled", "out-of-scope handled (out_of_scope or fallback)"),
                           ("in_scope_wrong_confident", "in-scope wrong and confident"),
                           ("parse_ms_median", "parse latency, median ms")]:
            fmt = (lambda v: f"{v:.1f}") if key.endswith("_ms_median") else (lambda v: f"{v:.3f}")
            row("NLU (held-out)", label, fmt(default[key]) if key in default else None,
                fmt(ours[key]) if key in ours else None, "stock: Rasa's default pipeline" if key == "in_scope_accuracy" else "")
    serving = _load("serving")
    if serving:
        _flood_rows(serving, row, verdicts)
        steady = [r for r in serving if r.get("scenario", "steady") == "steady"]
        for level in sorted({r["concurrency"] for r in steady}):
            pair = {r["server"]: r for r in steady if r["concurrency"] == level}
            if len(pair) != 2:
                continue
            stock, ours = pair["stock"], pair["ours"]
            row("Serving (REST)", f"{level} concurrent: msg/s", stock["throughput_msg_s"], ours["throughput_msg_s"],
                _ratio(ours["throughput_msg_s"], stock["throughput_msg_s"]))
            row("Serving (REST)", f"{level} concurrent: p50 / p95 / p99 ms",
                f"{stock['p50_ms']} / {stock['p95_ms']} / {stock['p99_ms']}",
                f"{ours['p50_ms']} / {ours['p95_ms']} / {ours['p99_ms']}", f"p99 {_ratio(ours['p99_ms'], stock['p99_ms'])}")
            row("Serving (REST)", f"{level} concurrent: failed requests", stock["failed"], ours["failed"])
            if level == 32:
                verdicts.append(f"- Throughput at 32 concurrent ≥ 2.0× stock: "
                                f"{_ratio(ours['throughput_msg_s'], stock['throughput_msg_s'])}, "
                                f"{_check(ours['throughput_msg_s'] >= 2 * stock['throughput_msg_s'])}.")
                verdicts.append(f"- p99 at 32 concurrent ≤ 0.5× stock: {_ratio(ours['p99_ms'], stock['p99_ms'])}, "
                                f"{_check(ours['p99_ms'] <= 0.5 * stock['p99_ms'])}; failed requests: "
                                f"{ours['failed']}, {_check(ours['failed'] == 0)}.")
        real = {r["server"]: r for r in serving if r.get("scenario") == "real words"}
        if len(real) == 2:
            stock, ours = real["stock"], real["ours"]
            row("Serving (REST)", f"{ours['concurrency']} concurrent, real users' messages: msg/s",
                stock["throughput_msg_s"], ours["throughput_msg_s"],
                f"{_ratio(ours['throughput_msg_s'], stock['throughput_msg_s'])}; ours parses long messages clause by clause")
            row("Serving (REST)", f"{ours['concurrency']} concurrent, real users' messages: p50 / p99 ms",
                f"{stock['p50_ms']} / {stock['p99_ms']}", f"{ours['p50_ms']} / {ours['p99_ms']}")
    growth = _load("growth")
    if growth and len(growth) == 2:
        stock, ours = growth
        for key in [k for k in stock if k.startswith("turn_")]:
            row("Growth (one conversation)", key.replace("_ms", "").replace("_", " ") + " ms", stock[key], ours[key])
        key = next(k for k in stock if k.startswith("growth_"))
        row("Growth (one conversation)", "turn 800 ÷ turn 1", f"{stock[key]}×", f"{ours[key]}×", "target ≤ 1.5×")
        verdicts.append(f"- Turn 800 ≤ 1.5× turn 1: {ours[key]}×, {_check(ours[key] <= 1.5)} (stock {stock[key]}×).")
    cold = _load("coldstart")
    if cold:
        default_training = ((nlu or {}).get("default_pipeline") or {}).get("training_seconds")
        row("Cold start", "full training, s", default_training, cold.get("training_seconds"),
            "stock column: Rasa's default pipeline, NLU only; target < 180 s")
        row("Cold start", "start to first answer, s", cold["stock"]["first_answer_seconds"],
            cold["ours"]["first_answer_seconds"])
        for side in ("stock", "ours"):
            cold[side]["memory"] = ", ".join(f"{name} {mb} MB" for name, mb in cold[side]["rss_mb"].items())
        row("Cold start", "memory per process (RSS after warm-up)", cold["stock"]["memory"], cold["ours"]["memory"])
        if "training_seconds" in cold:
            verdicts.append(f"- Full training under 3 minutes: {cold['training_seconds']} s, "
                            f"{_check(cold['training_seconds'] < 180)}.")
    lookup = _load("tx_lookup")
    if lookup:
        row("Transaction lookup (ours only)", "added per looked-up turn, p50 / p95 ms", None,
            f"{lookup['added_p50_ms']} / {lookup['added_p95_ms']}", "against anvil on loopback; target p95 ≤ 300 ms")
        verdicts.append(f"- Lookup adds ≤ 300 ms at p95: {lookup['added_p95_ms']} ms, "
                        f"{_check(lookup['added_p95_ms'] <= 300)}.")
    surge = _load("surge")
    if surge:  # `make bench` runs the embedded profile; the scale-out rows come from `make bench-surge-scaleout`
        for result in (r for r in surge if not r["target"].startswith("scale-out")):
            row("Surge (ours only)", f"{result['target']} · {result['scenario']}: lost / duplicated messages", None,
                f"{result.get('lost_messages')} / {result.get('duplicated_messages')}",
                f"{result.get('conversations')} conversations, {result.get('throughput_msg_per_s')} msg/s, "
                f"p99 {result.get('latency_p99_s')} s")
            p99, lost, duplicated = (result.get(k) for k in ("latency_p99_s", "lost_messages", "duplicated_messages"))
            if p99 is not None:
                verdicts.append(f"- Surge ({result['scenario']}, {result.get('conversations')} conversations): p99 ≤ 3 s: "
                                f"{p99} s, {_check(p99 <= 3)}; lost / duplicated 0 / 0: {lost} / {duplicated}, "
                                f"{_check(lost == 0 and duplicated == 0)}.")
    escalation = _load("escalation")
    if escalation:
        row("Escalation (ours only)", "message to ticket visible, p99 ms", None, escalation.get("visible_ms_p99"))
    text = "\n".join([
        "# Benchmarks: stock Rasa 3.6.21 and this project, side by side", "",
        "One table from the latest `make bench` run (each benchmark also writes its own `results/<name>.md` "
        "with the method and every number). *Stock* is `rasa run` as it comes, with the same model: the `rest` "
        "channel, `SQLTrackerStore` on SQLite and the action server over HTTP; for NLU, Rasa's default "
        "pipeline trained on the same data. *This project* is the `make run` configuration.", "",
        f"Machine: {machine()}.", "",
        "| area | metric | stock | this project | ratio / note |", "|---|---|---|---|---|", *rows, "",
        "## The issue's targets", "", *verdicts, ""])
    (RESULTS / "bench.md").write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    print(summary())
