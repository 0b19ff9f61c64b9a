"""What the policies see does not depend on the tracker cache (rasa_server/tracker_store.py).

A 300-turn conversation (FAQ turns, slots set from entities and reset, a form that stays active
for many turns) is played against a ``CachingSQLTrackerStore`` that keeps it in memory. At
several turns the tracker it returns from its cache is compared with the one a store without a
cache returns from the same database (a restart, or the other Rasa process): the same events,
the same ``past_states`` and the same next action predicted by the project's trained model.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, BotUttered, Event, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_server.tracker_store import CachingSQLTrackerStore
from tests.servers import latest_model

SENDER = "long-conversation"
TURNS = 300
FAQ = ["create_wallet", "gas_fee", "cross_chain", "official_download", "supported_chains", "token_approval"]
FORM = "transfer_details_form"
# Turns after which both trackers are compared: before and after compactions, inside the form.
CHECKPOINTS = [5, 30, 39, 40, 41, 47, 60, 77, 100, 123, 150, 177, 200, 211, 240, 251, 280, 299]


def user(text: str, intent: str, entities: List[Dict[str, Any]] = ()) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.97},
                       parse_data={"intent": {"name": intent, "confidence": 0.97}, "entities": list(entities),
                                   "text": text, "intent_ranking": [{"name": intent, "confidence": 0.97}]},
                       entities=list(entities))


def bot(action: str) -> List[Event]:
    return [ActionExecuted(action), BotUttered(f"text of {action}", {"elements": None}, {"utter_action": action})]


def session_start() -> List[Event]:
    """As Rasa logs it: the action's events are made first, then the action itself is logged."""
    made = [SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)]
    return [ActionExecuted("action_session_start")] + made


def turn_events(n: int) -> List[Event]:
    """Turn ``n`` of a 37-turn cycle: FAQ and small talk, slots from entities, a long form, its end."""
    phase = n % 37
    events: List[Event]
    if phase == 10:  # funds in transit: the form starts and asks for the chain
        events = [user(f"转账卡住了 {n}", "stuck_transaction"), ActionExecuted(FORM), ActiveLoop(FORM),
                  SlotSet(REQUESTED_SLOT, "chain"), *bot("utter_ask_chain")[1:]]
    elif 11 <= phase <= 24:  # answers the form does not accept: it asks again, the loop stays active
        events = [user(f"不知道 {n}", "deny"), SlotSet("chain", None), ActionExecuted(FORM),
                  SlotSet(REQUESTED_SLOT, "chain"), *bot("utter_ask_chain")[1:]]
    elif phase == 25:
        events = [user("TRON", "out_of_scope"), SlotSet("chain", "TRON"), ActionExecuted(FORM),
                  SlotSet(REQUESTED_SLOT, "tx_hash"), *bot("utter_ask_tx_hash")[1:]]
    elif phase == 26:  # the form is done, the ticket is asked for
        events = [user(f"0xabc{n:04d}", "out_of_scope"), SlotSet("tx_hash", f"0xabc{n:04d}"), ActionExecuted(FORM),
                  ActiveLoop(None), SlotSet(REQUESTED_SLOT, None), ActionExecuted("action_escalate"),
                  SlotSet("transfer_details_asked", True), BotUttered("ticket", {}, {})]
    elif phase % 5 == 0:
        chain = ["ETH", "BSC", "TRON"][n % 3]
        entity = {"entity": "chain", "value": chain, "start": 0, "end": len(chain)}
        events = [user(f"{chain} 上怎么加代币", "add_custom_token", [entity]), SlotSet("chain", chain),
                  *bot("action_answer_faq")]
    elif phase % 7 == 0:
        events = [user(f"你好 {n}", "greet"), *bot("utter_greet")]
    else:
        intent = FAQ[n % len(FAQ)]
        events = [user(f"问题 {n}: {intent}", intent), *bot("action_answer_faq")]
    return events + [ActionExecuted(ACTION_LISTEN_NAME)]


async def next_turn(store: CachingSQLTrackerStore, n: int, domain: Any) -> None:
    """Turn ``n`` as Rasa runs it: fetch (or start) the conversation, apply the turn, save."""
    tracker = await store.retrieve(SENDER)
    if tracker is None:
        tracker = await store.create_tracker(SENDER, append_action_listen=False)
        tracker.update_with_events(session_start(), domain)
    tracker.update_with_events(turn_events(n), domain)
    await store.save(tracker)


def as_dicts(tracker: DialogueStateTracker) -> List[Dict[str, Any]]:
    return [event.as_dict() for event in tracker.applied_events()]


@pytest.fixture(scope="module")
def agent():
    from rasa.core.agent import Agent

    return Agent.load(str(latest_model()))


def test_the_tracker_from_the_cache_and_from_the_database_give_the_policies_the_same_input(tmp_path, agent):
    domain = agent.domain
    database = str(tmp_path / "tracker.db")
    cached = CachingSQLTrackerStore(domain=domain, dialect="sqlite", db=database)
    uncached = CachingSQLTrackerStore(domain=domain, dialect="sqlite", db=database, cache_size=0)

    def predict(tracker: DialogueStateTracker, next_message: UserUttered) -> Any:
        probe = tracker.copy()
        probe.update(UserUttered.from_parameters(next_message.as_dict()))
        prediction = agent.processor._predict_next_with_tracker(probe)
        best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
        return domain.action_names_or_texts[best], prediction.policy_name, probe.past_states(domain)

    async def play() -> List[int]:
        compared = []
        for n in range(TURNS):
            await next_turn(cached, n, domain)
            if n not in CHECKPOINTS:
                continue
            hits = cached.hits
            from_cache = await cached.retrieve(SENDER)
            assert cached.hits == hits + 1, "the cached store should have answered from memory"
            restarted = CachingSQLTrackerStore(domain=domain, dialect="sqlite", db=database)  # a fresh process
            for from_database in (await uncached.retrieve(SENDER), await restarted.retrieve(SENDER)):
                assert as_dicts(from_cache) == as_dicts(from_database), f"turn {n}: different events"
                assert from_cache.past_states(domain) == from_database.past_states(domain), f"turn {n}"
                assert from_cache.current_slot_values() == from_database.current_slot_values()
                assert from_cache.active_loop_name == from_database.active_loop_name
                next_message = turn_events(n + 1)[0]
                assert predict(from_cache, next_message) == predict(from_database, next_message), f"turn {n}"
            compared.append(len(from_cache.events))
        return compared

    sizes = asyncio.run(play())
    assert len(sizes) == len(CHECKPOINTS)
    # Still flat: the tracker the policies get stays bounded while the conversation grows.
    assert max(sizes) <= cached.compact_above + 20
    everything = asyncio.run(uncached.retrieve_full_tracker(SENDER))
    assert len([e for e in everything.events if isinstance(e, UserUttered)]) == TURNS  # the database keeps all
    last = asyncio.run(cached.retrieve(SENDER))
    assert last.get_slot("transfer_details_asked") is True


def test_the_active_loop_and_slots_survive_compaction_the_same_way_on_both_paths(tmp_path, rasa_domain):
    """Compacted inside the form: both paths carry the loop and the slot reset to None over the cut."""
    database = str(tmp_path / "tracker.db")
    cached = CachingSQLTrackerStore(domain=rasa_domain, dialect="sqlite", db=database, compact_above=60,
                                    keep_events=20)

    async def play() -> None:
        for n in range(60):
            await next_turn(cached, n, rasa_domain)
            from_cache = await cached.retrieve(SENDER)
            fresh = CachingSQLTrackerStore(domain=rasa_domain, dialect="sqlite", db=database, compact_above=60,
                                           keep_events=20)
            from_database = await fresh.retrieve(SENDER)
            assert as_dicts(from_cache) == as_dicts(from_database), f"turn {n}"
            if 11 <= n % 37 <= 25:
                assert from_database.active_loop_name == FORM

    asyncio.run(play())
