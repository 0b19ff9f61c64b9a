"""The prediction cache (rasa_server/prediction_cache.py) predicts what the policies predict.

Every dialogue state of the project's stories and rules (each prefix of each
training conversation that ends where the bot acts) is predicted by the real
model's policies, stock-way, then through the cache (filled, then hit). No two
states that share a cache key may be predicted differently, and the cache must
answer each state as the policies do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from rasa.core.agent import Agent
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from rasa_server import patches, prediction_cache
from tests.conftest import PROJECT_ROOT
from tests.servers import latest_model

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def agent() -> Agent:
    return Agent.load(str(latest_model()))


@pytest.fixture
def cache_size(performance):
    """Set the cache's size for this process, as PREDICTION_CACHE_SIZE does for a server."""
    return lambda entries: performance(prediction_cache_size=entries)


def dialogue_states(agent: Agent) -> List[List[Any]]:
    """The events before each bot action of every training story and rule (known actions only)."""
    domain = agent.domain
    steps = []
    for folder in ("data/stories", "data/rules"):
        for path in sorted(Path(PROJECT_ROOT / folder).glob("*.yml")):
            steps += YAMLStoryReader(domain).read_from_file(str(path))
    trackers = TrainingDataGenerator(StoryGraph(steps), domain, remove_duplicates=True,
                                     augmentation_factor=0).generate()
    known = set(domain.action_names_or_texts)
    prefixes, seen = [], set()
    for tracker in trackers:
        events = list(tracker.events)
        if any(isinstance(e, ActionExecuted) and e.action_name and e.action_name not in known for e in events):
            continue  # rule snippets ("...") and conditions are training-only markers
        for index, event in enumerate(events):
            if isinstance(event, ActionExecuted) and index > 0:
                prefix = events[:index]
                marker = repr(_events(prefix))
                if marker not in seen:
                    seen.add(marker)
                    prefixes.append(prefix)
    return prefixes + first_turns(agent)


def first_turns(agent: Agent) -> List[List[Any]]:
    """A new conversation's first message of every intent, in both languages, with and without an entity."""
    from rasa.shared.core.events import SessionStarted

    start = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    turns = []
    for intent in agent.domain.intents:
        for language in ("zh", "en"):
            for entities in ([], [{"entity": "chain", "value": "TRON", "start": 0, "end": 1}]):
                turns.append(start + [SlotSet("language", language),
                                      UserUttered("x", {"name": intent, "confidence": 1.0}, entities)])
    return turns


def fresh(agent: Agent, events: List[Any]) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("prediction-cache", events, slots=agent.domain.slots)


def _events(events: List[Any]) -> List[Dict[str, Any]]:
    return [{k: v for k, v in e.as_dict().items() if k != "timestamp"} for e in events]


def outcome(prediction: Any) -> Tuple[Any, ...]:
    return (prediction.max_confidence_index, prediction.policy_name, tuple(prediction.probabilities),
            _events(prediction.events), _events(prediction.optional_events), prediction.hide_rule_turn,
            prediction.is_end_to_end_prediction, prediction.is_no_user_prediction, prediction.action_metadata)


def test_every_training_state_is_predicted_the_same_through_the_cache(agent, cache_size):
    processor = agent.processor
    states = dialogue_states(agent)
    assert len(states) > 300  # stories, rules, and a first message of every intent
    stock = [outcome(patches._stock_predict_next_with_tracker(processor, fresh(agent, s))) for s in states]

    by_key: Dict[Any, Tuple[Any, ...]] = {}
    for events, predicted in zip(states, stock):
        key = prediction_cache.state_key(fresh(agent, events))
        assert by_key.setdefault(key, predicted) == predicted, events  # one key, one prediction

    cache_size(4096)
    filled = [outcome(patches.predict_next_with_tracker(processor, fresh(agent, s))) for s in states]
    cache = processor._wallet_prediction_cache
    hits = cache.hits
    again = [outcome(patches.predict_next_with_tracker(processor, fresh(agent, s))) for s in states]
    # Every state is answered from the cache but those with a follow-up action (Rasa runs it unpredicted).
    assert cache.hits - hits == sum(1 for s in states if not fresh(agent, s).followup_action)
    assert filled == stock
    assert again == stock


def test_no_story_or_rule_is_written_with_user_text():
    """The key leaves a user's text out when the turn has an intent: right only without end-to-end steps."""
    import yaml

    for folder in ("data/stories", "data/rules"):
        for path in sorted(Path(PROJECT_ROOT / folder).glob("*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for block in (data.get("stories") or []) + (data.get("rules") or []):
                assert not [step for step in block.get("steps") or [] if "user" in step], (path, block.get("story") or block.get("rule"))


def test_events_from_the_cache_carry_a_fresh_timestamp(agent, cache_size):
    import time

    cache_size(4096)
    state = next(s for s in dialogue_states(agent)
                 if patches._stock_predict_next_with_tracker(agent.processor, fresh(agent, s)).events)
    patches.predict_next_with_tracker(agent.processor, fresh(agent, state))
    before = time.time()
    cached = patches.predict_next_with_tracker(agent.processor, fresh(agent, state))
    assert cached.events and all(event.timestamp >= before for event in cached.events)


def test_the_key_sees_intents_entities_slots_and_actions_but_not_bot_texts(agent):
    from rasa.shared.core.events import BotUttered, SessionStarted

    start = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    base = start + [UserUttered("怎么创建钱包", {"name": "create_wallet", "confidence": 0.9})]
    key = prediction_cache.state_key(fresh(agent, base))
    other_text = start + [UserUttered("how do I create a wallet", {"name": "create_wallet", "confidence": 0.6})]
    assert prediction_cache.state_key(fresh(agent, other_text)) == key
    other_intent = start + [UserUttered("怎么创建钱包", {"name": "import_wallet", "confidence": 0.9})]
    assert prediction_cache.state_key(fresh(agent, other_intent)) != key
    with_entity = start + [UserUttered("怎么创建钱包", {"name": "create_wallet", "confidence": 0.9},
                                       [{"entity": "chain", "value": "TRON", "start": 0, "end": 1}])]
    assert prediction_cache.state_key(fresh(agent, with_entity)) != key
    with_slot = base + [SlotSet("language", "en")]
    assert prediction_cache.state_key(fresh(agent, with_slot)) != key
    answered = base + [ActionExecuted("action_answer_faq")]
    said = base + [ActionExecuted("action_answer_faq"), BotUttered("不同的措辞")]
    assert prediction_cache.state_key(fresh(agent, answered)) == prediction_cache.state_key(fresh(agent, said))
    assert prediction_cache.state_key(fresh(agent, answered)) != key


def test_a_reloaded_model_starts_with_an_empty_cache(agent, cache_size):
    cache_size(16)
    first = prediction_cache.for_processor(agent.processor, 16)
    reloaded = Agent.load(str(latest_model()))
    assert prediction_cache.for_processor(reloaded.processor, 16) is not first
    assert len(prediction_cache.for_processor(reloaded.processor, 16)) == 0


def test_off_means_no_cache(agent, cache_size):
    cache_size(0)
    assert prediction_cache.for_processor(agent.processor, 0) is None
    events = [ActionExecuted("action_listen"), UserUttered("你好", {"name": "greet", "confidence": 1.0})]
    prediction = patches.predict_next_with_tracker(agent.processor, fresh(agent, events))
    assert prediction.max_confidence_index >= 0
