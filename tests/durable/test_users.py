"""The queue's users: the Telegram ledger's lease, the spool's per-conversation order, the outbox's desk errors."""

import asyncio
import multiprocessing
import time

import pytest

from channels.telegram import UpdateLedger
from deskapi import outbox as outbox_module
from deskapi.client import DeskUnavailable
from durable.queue import Permanent, drain_once
from rasa_server.spool import MessageSpool


def test_a_redelivery_during_a_slow_turn_is_not_processed_again(tmp_path):
    ledger = UpdateLedger(tmp_path / "t.db", lease_seconds=0.3)
    assert ledger.begin(7) is True
    assert ledger.begin(7) is False  # still being processed: the lease runs
    assert UpdateLedger(tmp_path / "t.db").begin(7) is False  # another process sharing the file
    time.sleep(0.4)
    assert ledger.begin(7) is True  # the turn never finished (a crash): taken up again
    ledger.finish(7)
    assert ledger.begin(7) is False
    assert UpdateLedger(tmp_path / "t.db").begin(7) is False  # also after a restart


def test_a_failed_update_is_not_processed_again(tmp_path):
    ledger = UpdateLedger(tmp_path / "t.db", lease_seconds=0)
    assert ledger.begin(9) is True
    ledger.finish(9, "failed")
    assert ledger.begin(9) is False
    assert ledger.queue.counts() == {"pending": 0, "dead": 1}


def _begin_and_die(path):
    UpdateLedger(path).begin(11)


def test_an_update_held_by_a_crashed_process_is_taken_up_at_once(tmp_path):
    process = multiprocessing.get_context("spawn").Process(target=_begin_and_die, args=(tmp_path / "t.db",))
    process.start()
    process.join(60)
    assert UpdateLedger(tmp_path / "t.db").begin(11) is True


def test_the_old_ledger_table_is_adopted(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "t.db") as db:
        db.execute("CREATE TABLE telegram_updates (update_id INTEGER PRIMARY KEY, status TEXT NOT NULL, received_at REAL NOT NULL)")
        db.executemany("INSERT INTO telegram_updates VALUES (?, ?, 1.0)", [(1, "done"), (2, "failed"), (3, "processing")])
    ledger = UpdateLedger(tmp_path / "t.db")
    assert [ledger.begin(i) for i in (1, 2, 3, 4)] == [False, False, True, True]


def test_the_spool_replays_each_conversation_in_order_and_others_proceed(tmp_path):
    spool = MessageSpool(tmp_path / "spool.db")
    for sender, text in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2")]:
        spool.keep(sender, text, "rest", {"k": 1})
    handled, fail_a1 = [], [True]

    async def send(entry):
        if entry.payload["text"] == "a1" and fail_a1[0]:
            raise ConnectionError("store hiccup")
        handled.append(entry.payload["text"])

    while asyncio.run(drain_once(spool.queue, send)):
        pass
    assert handled == ["b1", "b2"] and spool.queue.counts() == {"pending": 2, "dead": 0}
    fail_a1[0] = False
    spool.queue._db.execute("UPDATE queue_entries SET next_attempt_at = 0")  # the backoff has passed
    while asyncio.run(drain_once(spool.queue, send)):
        pass
    assert handled == ["b1", "b2", "a1", "a2"]


def test_the_old_spool_table_is_adopted(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "spool.db") as db:
        db.execute("CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, sender_id TEXT NOT NULL, text TEXT NOT NULL,"
                   " input_channel TEXT, metadata TEXT, created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
                   " last_error TEXT, replayed_at REAL)")
        db.execute("""INSERT INTO spool VALUES (3, 'u', '你好', 'rest', '{"x": 1}', 1.0, 0, NULL, NULL)""")
    entry, = MessageSpool(tmp_path / "spool.db").queue.entries()
    assert entry.id == 3 and entry.group == "u"
    assert entry.payload == {"sender_id": "u", "text": "你好", "input_channel": "rest", "metadata": {"x": 1}}


class FakeDesk:
    def __init__(self, status):
        self.status = status

    async def escalate(self, payload):
        raise DeskUnavailable(f"HTTP {self.status}", status=self.status)


@pytest.mark.parametrize("status, permanent", [(422, True), (400, True), (401, False), (429, False), (503, False),
                                               (None, False)])
def test_the_desk_refusing_an_escalation_is_permanent_and_an_outage_is_not(monkeypatch, tmp_path, status, permanent):
    monkeypatch.setattr(outbox_module, "get_desk_client", lambda: FakeDesk(status))
    box = outbox_module.EscalationOutbox(tmp_path / "outbox.db")
    reference = box.add({"conversation_id": "c1", "escalated_at": "2026-01-01T00:00:00Z"})
    with pytest.raises(Permanent if permanent else DeskUnavailable):
        asyncio.run(outbox_module.send_to_desk(box.queue.claim(1, 60)[0]))
    assert reference == 1
