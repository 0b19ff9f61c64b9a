"""Training data and dialogue data: complete, consistent, and validated by Rasa."""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from rasa.shared.core.constants import DEFAULT_INTENTS
from rasa.shared.nlu.training_data.loading import load_data

from tests.conftest import PROJECT_ROOT
from safety.payloads import FEEDBACK_INTENTS, INTERNAL_INTENTS
from answers.topics import FAQ_INTENTS

MIN_EXAMPLES = 30
HOLDOUT = PROJECT_ROOT / "tests/nlu/holdout.yml"


@pytest.fixture(scope="module")
def training_data():
    return load_data(str(PROJECT_ROOT / "data/nlu"))


def test_every_intent_has_enough_examples(training_data, rasa_domain):
    counts = Counter(m.get("intent") for m in training_data.intent_examples)
    for intent in rasa_domain.intents:
        if intent in DEFAULT_INTENTS or intent in INTERNAL_INTENTS or intent in FEEDBACK_INTENTS:
            continue  # feedback intents are buttons only (answers/feedback.py)  # internal intents must never be trained: see test_internal_intents_are_never_trained
        assert counts[intent] >= MIN_EXAMPLES, f"{intent} has {counts[intent]} examples"


def test_internal_intents_are_never_trained(training_data):
    assert not INTERNAL_INTENTS & set(training_data.intents)


def test_no_example_is_labelled_twice(training_data):
    seen = {}
    for message in training_data.intent_examples:
        text, intent = message.get("text"), message.get("intent")
        assert seen.setdefault(text, intent) == intent, f"{text!r} is both {seen[text]} and {intent}"


def test_the_holdout_split_is_never_trained_on(training_data):
    holdout = load_data(str(HOLDOUT))
    trained = {m.get("text").strip().lower() for m in training_data.intent_examples}
    overlap = [m.get("text") for m in holdout.intent_examples if m.get("text").strip().lower() in trained]
    assert not overlap
    assert set(holdout.intents) >= set(training_data.intents)


def test_every_intent_has_a_test_story():
    text = "\n".join(p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "tests/stories").glob("*.yml"))
    tested = set(re.findall(r"intent:\s*(\w+)", text))
    trained = set(load_data(str(PROJECT_ROOT / "data/nlu")).intents)
    assert trained - tested == set()


def test_action_answer_faq_answers_exactly_the_faq_intents_and_each_has_its_answer():
    import yaml

    rules = yaml.safe_load((PROJECT_ROOT / "data/rules/faq.yml").read_text(encoding="utf-8"))["rules"]
    answered = {r["steps"][0]["intent"] for r in rules if r["steps"][1] == {"action": "action_answer_faq"}}
    assert answered == set(FAQ_INTENTS)
    from rasa.shared.core.domain import Domain

    responses = Domain.load(str(PROJECT_ROOT / "domain")).responses
    assert {f"utter_{intent}" for intent in FAQ_INTENTS} <= set(responses)


def _responses_used_by_actions():
    source = "\n".join(
        p.read_text(encoding="utf-8") for folder in ("actions", "answers", "channels", "rasa_server") for p in (PROJECT_ROOT / folder).glob("*.py")
    )
    # utter_default is sent by Rasa's own action_default_fallback (core fallback);
    # forms ask for their slots with utter_ask_<slot>, which the validator does not know.
    from rasa.shared.core.domain import Domain

    forms = Domain.load(str(PROJECT_ROOT / "domain")).forms
    asked = {f"utter_ask_{slot}" for form in forms.values() for slot in form.get("required_slots", [])}
    faq_answers = {f"utter_{intent}" for intent in FAQ_INTENTS}  # sent by action_answer_faq
    names = set(re.findall(r'"(utter_[a-z0-9_]+)"', source)) | {"utter_default"} | asked | faq_answers
    prefixes = set(re.findall(r'f"(utter_[a-z0-9_]+)\{', source))
    return names, prefixes


def test_rasa_data_validate_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate", "--domain", "domain", "--data", "data", "--config", "config.yml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    names, prefixes = _responses_used_by_actions()
    unexpected = []
    for line in output.splitlines():
        if "UserWarning" not in line and " WARNING " not in line:
            continue  # third-party deprecation notices say nothing about our data
        if any(f"'{intent}'" in line for intent in INTERNAL_INTENTS | FEEDBACK_INTENTS) and "not found in the NLU training data" in line:
            continue  # by design: only the desk triggers them (test_internal_intents_are_never_trained); feedback: buttons only
        unused = re.search(r"utterance '(\w+)' is not used", line)
        if unused and (unused.group(1) in names or unused.group(1).startswith(tuple(prefixes))):
            continue  # sent by a custom action or a channel, which Rasa's validator cannot see
        unexpected.append(line)
    assert not unexpected, "\n".join(unexpected)


def _real_rows(path):
    import csv

    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def test_the_real_heldout_split_is_never_trained_on(training_data):
    """Whole threads are on one side only, and no held-out text is a training example."""
    sources = _real_rows(PROJECT_ROOT / "data/real/sources.tsv")
    heldout_urls = {r["url"] for r in sources if r["split"] == "heldout"}
    train_urls = {r["url"] for r in sources if r["split"] == "train"}
    assert heldout_urls and train_urls and not heldout_urls & train_urls
    heldout = _real_rows(PROJECT_ROOT / "tests/nlu/real_heldout.tsv")
    assert len(heldout) >= 300 and {r["url"] for r in heldout} == heldout_urls
    trained = {" ".join(m.get("text").split()) for m in training_data.intent_examples}
    leaked = [r["id"] for r in heldout if " ".join(r["text"].replace(" / ", " ").split()) in trained]
    assert not leaked


def test_every_real_training_example_has_its_source_url():
    import yaml

    sources = _real_rows(PROJECT_ROOT / "data/real/sources.tsv")
    assert all(r["url"].startswith("https://") for r in sources)
    real = yaml.safe_load((PROJECT_ROOT / "data/nlu/real_users.yml").read_text(encoding="utf-8"))["nlu"]
    examples = sum(len([line for line in block["examples"].splitlines() if line.strip()]) for block in real)
    assert examples == sum(r["split"] == "train" for r in sources)
