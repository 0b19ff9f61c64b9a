"""NLU benchmark: the trained model (data/ only) on the held-out split.

Prints and writes ``results/nlu.md``: per-intent precision/recall/F1, confusion
pairs, suspected_theft recall/precision, out-of-scope handling, parse latency.
Run with ``make bench`` (which trains first if the model is stale). Numbers,
not assertions: the targets are shown next to them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.loading import load_data
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOLDOUT = PROJECT_ROOT / "tests/nlu/holdout.yml"
THEFT = "suspected_theft"
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
TARGETS = {"in_scope_accuracy": 0.95, "theft_recall": 1.0, "theft_precision": 0.95, "oos_handled": 0.90}


@dataclass(frozen=True)
class Prediction:
    text: str
    gold: str
    predicted: str
    confidence: float
    seconds: float


def latest_model() -> Path:
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit("no model in models/: run `make train` first")
    return models[-1]


async def predict_all(model: Path, examples: List[Tuple[str, str]]) -> List[Prediction]:
    agent = Agent.load(str(model))
    predictions = []
    for text, gold in examples:
        started = time.perf_counter()
        parsed = await agent.parse_message(text)
        seconds = time.perf_counter() - started
        intent = parsed.get("intent") or {}
        predictions.append(Prediction(text, gold, intent.get("name"), intent.get("confidence") or 0.0, seconds))
    return predictions


def ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def per_intent_scores(predictions: List[Prediction]) -> Dict[str, Dict[str, float]]:
    scores = {}
    for intent in sorted({p.gold for p in predictions}):
        tp = sum(p.gold == intent and p.predicted == intent for p in predictions)
        fp = sum(p.gold != intent and p.predicted == intent for p in predictions)
        fn = sum(p.gold == intent and p.predicted != intent for p in predictions)
        precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[intent] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    return scores


def summarize(predictions: List[Prediction]) -> Dict[str, object]:
    in_scope = [p for p in predictions if p.gold != OUT_OF_SCOPE]
    out_of_scope = [p for p in predictions if p.gold == OUT_OF_SCOPE]
    theft_gold = [p for p in predictions if p.gold == THEFT]
    theft_predicted = [p for p in predictions if p.predicted == THEFT]
    latencies = sorted(p.seconds * 1000 for p in predictions)
    return {
        "examples": len(predictions),
        "in_scope_accuracy": ratio(sum(p.predicted == p.gold for p in in_scope), len(in_scope)),
        "in_scope_fallback_rate": ratio(sum(p.predicted == FALLBACK for p in in_scope), len(in_scope)),
        "in_scope_wrong_confident": ratio(
            sum(p.predicted not in (p.gold, FALLBACK) for p in in_scope), len(in_scope)
        ),
        "theft_recall": ratio(sum(p.predicted == THEFT for p in theft_gold), len(theft_gold)),
        "theft_precision": ratio(sum(p.gold == THEFT for p in theft_predicted), len(theft_predicted)),
        "oos_handled": ratio(sum(p.predicted in (OUT_OF_SCOPE, FALLBACK) for p in out_of_scope), len(out_of_scope)),
        "parse_ms_median": statistics.median(latencies),
        "parse_ms_p90": latencies[int(0.9 * (len(latencies) - 1))],
    }


def render(model: Path, summary: Dict[str, object], scores: Dict[str, Dict[str, float]],
           predictions: List[Prediction]) -> str:
    lines = [
        "# NLU benchmark",
        "",
        f"Model `{model.name}` (trained on `data/` only), evaluated on `{HOLDOUT.relative_to(PROJECT_ROOT)}`"
        f" ({summary['examples']} examples). Regenerate with `make bench`.",
        "",
        "| metric | value | target |",
        "|---|---|---|",
    ]
    for key, value in summary.items():
        target = TARGETS.get(key)
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} | {'≥ %.2f' % target if target else ''} |")
    lines += ["", "## Per intent", "", "| intent | precision | recall | F1 | n |", "|---|---|---|---|---|"]
    for intent, s in scores.items():
        lines.append(f"| {intent} | {s['precision']:.2f} | {s['recall']:.2f} | {s['f1']:.2f} | {s['support']} |")
    confusions = Counter((p.gold, p.predicted) for p in predictions if p.gold != p.predicted)
    lines += ["", "## Confusion pairs (gold → predicted)", ""]
    lines += [f"- {gold} → {pred}: {n}" for (gold, pred), n in confusions.most_common()] or ["- none"]
    examples = defaultdict(list)
    for p in predictions:
        if p.gold != p.predicted:
            examples[p.gold].append(f"`{p.text}` → {p.predicted} ({p.confidence:.2f})")
    lines += ["", "## Misclassified examples", ""]
    for gold, items in sorted(examples.items()):
        lines += [f"- **{gold}**: " + "; ".join(items)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results/nlu.md")
    args = parser.parse_args()
    # One debug line per parsed message would bury the report.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    model = args.model or latest_model()
    holdout = load_data(str(HOLDOUT))
    examples = [(m.get("text"), m.get("intent")) for m in holdout.intent_examples]
    predictions = asyncio.run(predict_all(model, examples))
    summary = summarize(predictions)
    scores = per_intent_scores(predictions)
    report = render(model, summary, scores, predictions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    args.out.with_suffix(".json").write_text(
        json.dumps({"summary": summary, "per_intent": scores}, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    print(report)


if __name__ == "__main__":
    main()
