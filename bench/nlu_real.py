"""Real users' words: the model as users get it (clause triage and gating on), on the real held-out split.

``tests/nlu/real_heldout.tsv`` holds messages real wallet users wrote, from threads
never trained on (scripts/real_split.py splits by thread). Scored as outside checks
score them: triage class (theft / transaction / app / wallet setup / other FAQ / out
of scope), suspected-theft recall and precision, out-of-scope handled (declined or
asked to clarify), fine-intent accuracy; for all messages and per language.
A message with no context: answer intents (``give_rating``…) are gated as for a
first message. ``make bench-nlu`` writes the numbers into ``results/nlu.md``.
"""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from bench.report import PROJECT_ROOT
from nlu.gating import FALLBACK
from nlu.triage import TRIAGE_CLASS

REAL_HELDOUT = PROJECT_ROOT / "tests/nlu/real_heldout.tsv"
TARGETS = {"triage_accuracy": 0.85, "theft_recall": 0.95, "theft_precision": 0.90, "oos_handled": 0.85}
# In-scope triage classes whose recall is reported beside theft recall.
RECALL_CLASSES = ("transaction", "app", "wallet_setup", "other_faq")


class RealExample:
    """One held-out message, as ``scripts/real_split.py`` wrote it (``id`` points into data/real/sources.tsv)."""

    def __init__(self, row: Dict[str, str]) -> None:
        self.id, self.url, self.lang, self.intent = row["id"], row["url"], row["lang"], row["intent"]
        self.text = row["text"].replace(" / ", "\n")

    @property
    def triage(self) -> str:
        return TRIAGE_CLASS[self.intent]

    @property
    def language(self) -> str:
        return "zh" if self.lang.startswith("zh") else "en"


@dataclass(frozen=True)
class RealPrediction:
    example: RealExample
    predicted: str
    confidence: float
    # The topic intents the clarifying question offers as buttons, when the bot asks (``predicted`` is the fallback).
    offered: Tuple[str, ...] = ()

    @property
    def predicted_triage(self) -> str:
        return TRIAGE_CLASS.get(self.predicted, "out_of_scope")


def load_heldout(path: Path = REAL_HELDOUT) -> List[RealExample]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))
    return [RealExample(row) for row in rows]


async def predict(agent, examples: List[RealExample], patched: bool = True) -> List[RealPrediction]:
    """Parse each example as a first message: through the patched processor (triage and gating), or stock."""
    from rasa.core.channels.channel import UserMessage

    from actions.clarify import suggested_intents
    from rasa_server import patches

    patches.install_parse()
    parse = patches.parse_message if patched else patches._stock_parse_message
    domain: Dict[str, Any] = agent.domain.as_dict()
    predictions = []
    for example in examples:
        parsed = await parse(agent.processor, UserMessage(example.text))
        intent = parsed.get("intent") or {}
        name = intent.get("name") or FALLBACK
        offered = tuple(suggested_intents(parsed.get("intent_ranking") or [], domain)) if name == FALLBACK else ()
        predictions.append(RealPrediction(example, name, float(intent.get("confidence") or 0), offered))
    return predictions


def _ratio(n: int, d: int) -> float:
    return n / d if d else float("nan")


def score(predictions: List[RealPrediction]) -> Dict[str, float]:
    """Triage accuracy, theft recall/precision, out-of-scope handled, fine-intent accuracy, each in-scope class's
    recall, and what the clarifying questions offer."""
    in_scope = [p for p in predictions if p.example.intent != "out_of_scope"]
    asked = [p for p in in_scope if p.predicted == FALLBACK]
    oos = [p for p in predictions if p.example.intent == "out_of_scope"]
    theft_gold = [p for p in predictions if p.example.triage == "theft"]
    theft_pred = [p for p in predictions if p.predicted_triage == "theft"]

    def triage_right(p: RealPrediction) -> bool:
        if p.example.triage == "out_of_scope":
            return p.predicted in ("out_of_scope", FALLBACK)
        return p.predicted_triage == p.example.triage and p.predicted != FALLBACK

    def recall(triage: str) -> float:
        """The share of ``triage``'s messages that got their triage right (out of scope: declined or asked)."""
        gold = [p for p in predictions if p.example.triage == triage]
        return _ratio(sum(triage_right(p) for p in gold), len(gold))

    return {
        "examples": len(predictions),
        "triage_accuracy": _ratio(sum(map(triage_right, predictions)), len(predictions)),
        "theft_recall": recall("theft"),
        "theft_precision": _ratio(sum(p.example.triage == "theft" for p in theft_pred), len(theft_pred)),
        "theft_examples": len(theft_gold),
        "oos_handled": recall("out_of_scope"),
        "oos_examples": len(oos),
        "fine_intent_accuracy": _ratio(sum(p.predicted == p.example.intent for p in predictions), len(predictions)),
        **{f"{triage}_recall": recall(triage) for triage in RECALL_CLASSES},
        "in_scope_fallback_rate": _ratio(len(asked), len(in_scope)),
        # Of the in-scope messages asked about: the share whose own intent is one of the offered buttons.
        "asked_intent_offered": _ratio(sum(p.example.intent in p.offered for p in asked), len(asked)),
        "confident_wrong_triage": _ratio(sum(not triage_right(p) and p.predicted != FALLBACK for p in predictions),
                                         len(predictions)),
    }


def by_language(predictions: List[RealPrediction]) -> Dict[str, Dict[str, float]]:
    return {"all": score(predictions),
            "zh": score([p for p in predictions if p.example.language == "zh"]),
            "en": score([p for p in predictions if p.example.language == "en"])}


def render(title: str, scores: Dict[str, Dict[str, float]], predictions: List[RealPrediction],
           show_errors: int = 40) -> List[str]:
    lines = [f"## {title}", "", "| metric | all | Chinese | English | target |", "|---|---|---|---|---|"]
    for key in scores["all"]:
        cells = [f"{scores[s][key]:.3f}" if isinstance(scores[s][key], float) else str(scores[s][key])
                 for s in ("all", "zh", "en")]
        target = TARGETS.get(key)
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {'≥ %.2f' % target if target else ''} |")
    confusions = Counter((p.example.triage, p.predicted_triage if p.predicted != FALLBACK else "fallback")
                         for p in predictions)
    lines += ["", "Triage confusion (gold → predicted: n): " + "; ".join(
        f"{g} → {q}: {n}" for (g, q), n in sorted(confusions.items()) if g != q)]
    return lines


def errors(predictions: List[RealPrediction], limit: Optional[int] = None) -> List[str]:
    wrong = [p for p in predictions if p.predicted != p.example.intent]
    return [f"{p.example.id}\t{p.example.intent}\t{p.predicted}\t{p.confidence:.2f}\t{p.example.text[:160]!r}"
            for p in wrong[:limit]]


def main() -> None:
    import argparse
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from bench.nlu_bench import latest_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--errors", action="store_true")
    parser.add_argument("--heldout", type=Path, default=REAL_HELDOUT,
                        help="a held-out file of the same format (e.g. an earlier round's, from git show)")
    args = parser.parse_args()
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    model = args.model or latest_model()
    agent = Agent.load(str(model))
    predictions = asyncio.run(predict(agent, load_heldout(args.heldout)))
    print("\n".join(render(f"Real users' words ({model.name})", by_language(predictions), predictions)))
    if args.errors:
        print("\n".join(errors(predictions)))


if __name__ == "__main__":
    main()
