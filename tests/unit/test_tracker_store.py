"""CachingSQLTrackerStore keeps the stock store's results while skipping the reload (rasa_server/tracker_store.py)."""

import asyncio

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

from rasa_server.tracker_store import CachingSQLTrackerStore


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture
def stores(tmp_path, rasa_domain):
    path = str(tmp_path / "tracker.db")
    return (CachingSQLTrackerStore(domain=rasa_domain, dialect="sqlite", db=path),
            CachingSQLTrackerStore(domain=rasa_domain, dialect="sqlite", db=path),
            SQLTrackerStore(domain=rasa_domain, dialect="sqlite", db=path))


def turn(tracker, text):
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered(f"re: {text}"))
    tracker.update(ActionExecuted("action_listen"))


def texts(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


async def conversation(store, sender, turns):
    tracker = await store.retrieve(sender)
    if tracker is None:  # as Rasa starts a conversation
        tracker = await store.create_tracker(sender, append_action_listen=False)
        tracker.update(ActionExecuted("action_session_start"))
        tracker.update(SessionStarted())
        tracker.update(ActionExecuted("action_listen"))
    for n in range(turns):
        turn(tracker, f"m{n}")
        await store.save(tracker)
        tracker = await store.retrieve(sender)
    return tracker


def test_the_kept_tracker_is_reused_and_every_event_is_stored_exactly_once(stores):
    caching, _other, stock = stores
    tracker = run(conversation(caching, "u1", 20))
    assert caching.hits >= 19
    from_disk = run(stock.retrieve_full_tracker("u1"))
    assert texts(from_disk) == [f"m{n}" for n in range(20)]
    assert [e.as_dict() for e in from_disk.events] == [e.as_dict() for e in tracker.events]  # each event once, in order


def test_a_write_by_another_process_is_seen(stores):
    first, second, stock = stores
    run(conversation(first, "u2", 3))
    run(conversation(second, "u2", 2))  # the other Rasa process answers two turns
    seen = run(first.retrieve("u2"))
    assert texts(seen) == ["m0", "m1", "m2", "m0", "m1"]
    turn(seen, "last")
    run(first.save(seen))
    assert texts(run(stock.retrieve("u2")))[-1] == "last" and len(texts(run(stock.retrieve("u2")))) == 6


def test_a_turn_that_failed_before_saving_is_not_reused(stores):
    caching, _other, stock = stores
    tracker = run(conversation(caching, "u3", 2))
    turn(tracker, "never saved")  # the processor crashed before save()
    again = run(caching.retrieve("u3"))
    assert "never saved" not in texts(again)


def test_a_new_session_is_reloaded_like_the_stock_store_does(stores):
    caching, _other, stock = stores
    tracker = run(conversation(caching, "u4", 2))
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    turn(tracker, "new session")
    run(caching.save(tracker))
    reloaded = run(caching.retrieve("u4"))
    assert texts(reloaded) == texts(run(stock.retrieve("u4"))) == ["new session"]


def test_a_long_conversation_is_kept_compacted_with_its_state_while_the_database_keeps_everything(stores):
    caching, _other, stock = stores

    async def long_conversation():
        tracker = await conversation(caching, "u5", 1)
        tracker.update(SlotSet("chain", "TRON"))
        await caching.save(tracker)
        tracker = await caching.retrieve("u5")
        for n in range(1, 120):
            turn(tracker, f"m{n}")
            await caching.save(tracker)
            tracker = await caching.retrieve("u5")
        return tracker

    kept = run(long_conversation())
    assert len(kept.events) <= caching.compact_above
    assert kept.get_slot("chain") == "TRON"
    assert texts(kept)[-1] == "m119" and len(texts(kept)) >= 15
    everything = run(stock.retrieve_full_tracker("u5"))
    assert texts(everything) == [f"m{n}" for n in range(120)]  # every turn stored, none twice



def test_a_store_without_the_conversation_in_memory_reads_the_same_compacted_tracker_the_cache_keeps(stores):
    """Item 11: the history the policies get does not depend on the cache (a restart, the other process)."""
    caching, other, _stock = stores
    tracker = run(conversation(caching, "u6", 1))
    tracker.update(SlotSet("chain", "TRON"))
    run(caching.save(tracker))
    for _chunk in range(7):  # 7 × 21 turns of 4 events: compacted several times
        kept = run(conversation(caching, "u6", 21))
        read = run(other.retrieve("u6"))
        other._kept.clear()  # the other process never keeps it: always read from the database
        assert [e.as_dict() for e in kept.events] == [e.as_dict() for e in read.events]
        assert kept.get_slot("chain") == read.get_slot("chain") == "TRON"
    assert caching.hits > 100 and len(kept.events) <= caching.compact_above


def test_a_new_conversation_is_stored_once_with_the_optimisations(stores, monkeypatch):
    """After a retrieve that found nothing, the save writes every event without counting (issue #21);
    a stale "found nothing" (past UNSTORED_TRUST_SECONDS) is not trusted: Rasa's count decides."""
    import rasa_server.tracker_store as module

    cached, other, stock = stores
    assert cached.optimised
    tracker = run(cached.get_or_create_tracker("new-1"))  # retrieve (nothing), create, save
    turn(tracker, "hi")
    run(cached.save(tracker))
    assert texts(run(stock.retrieve("new-1"))) == ["hi"]
    assert len(run(stock.retrieve("new-1")).events) == len(tracker.events)  # nothing written twice

    assert run(cached.retrieve("new-2")) is None
    late = other.init_tracker("new-2")
    late.update(ActionExecuted("action_listen"))
    run(other.save(late))  # another process stored the conversation meanwhile
    monkeypatch.setattr(module, "UNSTORED_TRUST_SECONDS", 0.0)
    mine = cached.init_tracker("new-2")
    mine.update(ActionExecuted("action_listen"))
    turn(mine, "hello")
    run(cached.save(mine))  # counted: only the events after the one already stored
    assert len(run(stock.retrieve("new-2")).events) == len(mine.events)


def test_the_rows_written_are_the_stock_stores_rows(tmp_path, rasa_domain):
    """The Core insert writes every column as Rasa's ORM save does (the desk and analytics read them)."""
    import sqlalchemy as sa

    def rows(store):
        with store.session_scope() as session:
            return [dict(r._mapping) for r in session.execute(
                sa.select(store.SQLEvent.__table__).order_by(store.SQLEvent.id))]

    ours = CachingSQLTrackerStore(domain=rasa_domain, dialect="sqlite", db=str(tmp_path / "ours.db"))
    stock = SQLTrackerStore(domain=rasa_domain, dialect="sqlite", db=str(tmp_path / "stock.db"))
    events = [ActionExecuted("action_session_start", timestamp=1.0), SessionStarted(timestamp=2.0),
              ActionExecuted("action_listen", timestamp=3.0),
              UserUttered("你好", {"name": "greet", "confidence": 0.9}, timestamp=4.0),
              SlotSet("language", "zh", timestamp=5.0), BotUttered("您好", timestamp=6.0)]
    for store in (ours, stock):
        tracker = run(store.create_tracker("u9", append_action_listen=False))
        for event in events:
            tracker.update(event)
        run(store.save(tracker))
    written = rows(ours)
    assert written == rows(stock)
    assert [r["intent_name"] for r in written] == [None, None, None, "greet", None, None]
    assert ours._kept["u9"].newest_id == written[-1]["id"]


def test_a_message_continuing_a_seed_hides_the_end_of_the_stored_one_before(stores, tmp_path):
    """The gate flags a message whose start continued the last one into a seed phrase; the first part,
    stored a turn earlier, is hidden in the database and in the tracker kept in memory (it was not)."""
    import sqlite3

    from safety.redaction import MARKERS, SEED_CONTINUED_METADATA_KEY

    caching, other, stock = stores
    tracker = run(conversation(caching, "u9", 1))
    first = "my words are tribe obscure"
    tracker.update(UserUttered(first, {"name": "nlu_fallback", "confidence": 0.3}, parse_data={"text": first}))
    tracker.update(ActionExecuted("action_listen"))
    run(caching.save(tracker))
    tracker = run(caching.retrieve("u9"))
    tracker.update(UserUttered(MARKERS["mnemonic"], {"name": "secret_exposed", "confidence": 1.0},
                               metadata={SEED_CONTINUED_METADATA_KEY: True}))
    run(caching.save(tracker))
    hidden = f"my words are {MARKERS['mnemonic']}"
    assert texts(tracker)[-2:] == [hidden, MARKERS["mnemonic"]]
    assert texts(run(stock.retrieve("u9")))[-2:] == [hidden, MARKERS["mnemonic"]]
    assert texts(run(other.retrieve("u9")))[-2:] == [hidden, MARKERS["mnemonic"]]
    dump = "\n".join(sqlite3.connect(str(tmp_path / "tracker.db")).iterdump())
    assert "tribe" not in dump and "obscure" not in dump


def test_an_unflagged_message_leaves_the_one_before_alone(stores):
    caching, _other, stock = stores
    tracker = run(conversation(caching, "u10", 1))
    tracker.update(UserUttered("tribe obscure", {"name": "nlu_fallback", "confidence": 0.3}))
    run(caching.save(tracker))
    tracker.update(UserUttered("lonely faint", {"name": "nlu_fallback", "confidence": 0.3}))
    run(caching.save(tracker))
    assert texts(run(stock.retrieve("u10")))[-2:] == ["tribe obscure", "lonely faint"]


def test_no_byte_of_a_hidden_first_part_stays_in_the_files_even_when_a_reader_delayed_it(stores, tmp_path):
    """The old text sits in the write-ahead log's frames and in freed page space, where no query finds it.
    The log is emptied after the hiding; a reader holding a snapshot delays that to a later save."""
    import sqlite3
    from pathlib import Path

    from safety.redaction import MARKERS, SEED_CONTINUED_METADATA_KEY

    caching, _other, _stock = stores
    path = tmp_path / "tracker.db"
    tracker = run(conversation(caching, "u11", 1))
    first = "my words are tribe obscure"
    tracker.update(UserUttered(first, {"name": "nlu_fallback", "confidence": 0.3}, parse_data={"text": first}))
    tracker.update(ActionExecuted("action_listen"))
    run(caching.save(tracker))
    reader = sqlite3.connect(str(path), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchall()  # a snapshot the checkpoint must not pass
    tracker = run(caching.retrieve("u11"))
    tracker.update(UserUttered(MARKERS["mnemonic"], {"name": "secret_exposed", "confidence": 1.0},
                               metadata={SEED_CONTINUED_METADATA_KEY: True}))
    run(caching.save(tracker))
    assert caching._log_holds_hidden_text
    reader.execute("ROLLBACK")
    reader.close()
    turn(tracker, "next question")
    run(caching.save(tracker))
    assert not caching._log_holds_hidden_text
    for file in (path, Path(f"{path}-wal")):
        assert not file.exists() or b"tribe obscure" not in file.read_bytes(), file
