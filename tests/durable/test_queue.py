"""durable/queue.py: leases across processes, dead letters, backoff, idempotency keys, groups."""

import asyncio
import multiprocessing
import time

from durable.queue import DurableQueue, Permanent, drain_once


def drain(queue, send, **options):
    return asyncio.run(drain_once(queue, send, **options))


def _drain_in_a_process(path, out_path, start):
    """One of two OS processes draining the same file; writes each id it sent, one a line."""
    queue = DurableQueue(path)
    start.wait(30)

    async def send(entry):
        with open(out_path, "a") as out:
            out.write(f"{entry.payload['n']}\n")
        await asyncio.sleep(0.001)

    async def run():
        idle_rounds = 0
        while idle_rounds < 3:
            sent = await drain_once(queue, send, limit=5, lease_seconds=60)
            idle_rounds = 0 if sent else idle_rounds + 1
            await asyncio.sleep(0 if sent else 0.05)

    asyncio.run(run())


def test_two_processes_draining_one_file_send_every_entry_exactly_once(tmp_path):
    path, n = tmp_path / "q.db", 400
    queue = DurableQueue(path)
    for i in range(n):
        queue.put({"n": i})
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    outs = [tmp_path / f"sent{i}.txt" for i in range(2)]
    workers = [context.Process(target=_drain_in_a_process, args=(path, out, start)) for out in outs]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    sent = [[int(line) for line in out.read_text().split()] if out.exists() else [] for out in outs]
    assert sorted(sent[0] + sent[1]) == list(range(n))  # every one, none twice
    assert all(sent), "both processes took part"
    assert queue.counts() == {"pending": 0, "dead": 0}


def test_a_poisoned_entry_is_dead_lettered_and_does_not_block_the_ones_behind_it(tmp_path):
    queue = DurableQueue(tmp_path / "q.db", max_attempts=4, base_delay=0, max_delay=0)
    poison = queue.put({"n": -1}).id
    for i in range(100):
        queue.put({"n": i})
    delivered = []

    async def send(entry):
        if entry.payload["n"] < 0:
            raise RuntimeError("the desk chokes on this one")
        delivered.append(entry.payload["n"])

    rounds = 0
    while drain(queue, send) or queue.counts()["pending"]:
        rounds += 1
        assert rounds < 50
    assert delivered == list(range(100))
    assert queue.counts() == {"pending": 0, "dead": 1}
    dead, = queue.entries("dead")
    assert dead.id == poison and dead.attempts == 4
    assert "gave up after 4 attempts" in dead.last_error and "the desk chokes on this one" in dead.last_error


def test_the_first_failure_does_not_stop_the_round(tmp_path):
    queue = DurableQueue(tmp_path / "q.db")
    for i in range(5):
        queue.put({"n": i})

    async def send(entry):
        if entry.payload["n"] == 0:
            raise ConnectionError("down for this one")

    assert drain(queue, send) == 4
    assert queue.counts() == {"pending": 1, "dead": 0}


def test_a_permanent_error_dead_letters_at_once(tmp_path):
    queue = DurableQueue(tmp_path / "q.db", max_attempts=10)
    queue.put({"n": 1})

    async def send(entry):
        raise Permanent("HTTP 422: conversation_id is required")

    assert drain(queue, send) == 0
    dead, = queue.entries("dead")
    assert dead.attempts == 1 and dead.last_error == "permanent failure: HTTP 422: conversation_id is required"
    assert queue.counts() == {"pending": 0, "dead": 1}


def test_backoff_grows_with_each_failure(tmp_path):
    queue = DurableQueue(tmp_path / "q.db", max_attempts=10, base_delay=2.0, max_delay=30.0)
    entry = queue.put({"n": 1})
    delays = []
    for _ in range(6):
        queue.claim_entry(entry.id, 60)
        before = time.time()
        queue.fail(entry.id, "still down")
        delays.append(queue.entries()[0].next_attempt_at - before)
    assert [round(d) for d in delays] == [2, 4, 8, 16, 30, 30]
    assert queue.claim(10, 60) == []  # not due yet
    assert queue.entries()[0].attempts == 6


def test_a_ready_check_that_fails_counts_no_attempt(tmp_path):
    queue = DurableQueue(tmp_path / "q.db")
    queue.put({"n": 1})

    async def send(entry):
        raise AssertionError("not called while the destination is down")

    assert drain(queue, send, ready=lambda: False) == 0
    assert queue.entries()[0].attempts == 0


def test_an_idempotency_key_returns_the_existing_entry(tmp_path):
    queue = DurableQueue(tmp_path / "q.db")
    first = queue.put({"n": 1}, key="update:7")
    again = queue.put({"n": 2}, key="update:7")
    assert again.id == first.id and again.payload == {"n": 1}
    assert queue.counts()["pending"] == 1
    queue.ack(first.id)
    assert queue.put({"n": 3}, key="update:7").state == "done"  # also once it is done
    assert DurableQueue(tmp_path / "q.db").put({"n": 4}, key="update:7").id == first.id  # and after a reopen


def test_a_lease_is_not_claimed_twice_until_it_runs_out(tmp_path):
    queue = DurableQueue(tmp_path / "q.db")
    other = DurableQueue(tmp_path / "q.db")
    queue.put({"n": 1})
    assert [e.payload for e in queue.claim(10, lease_seconds=0.2)] == [{"n": 1}]
    assert other.claim(10, lease_seconds=60) == []
    time.sleep(0.3)
    assert [e.payload for e in other.claim(10, lease_seconds=60)] == [{"n": 1}]  # the holder crashed: taken over


def test_a_group_replays_in_order_and_waits_behind_its_own_failure_only(tmp_path):
    queue = DurableQueue(tmp_path / "q.db", base_delay=60)
    for group, text in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2"), ("a", "a3")]:
        queue.put({"text": text}, group=group)
    seen = []

    async def send(entry):
        seen.append(entry.payload["text"])
        if entry.payload["text"] == "a1":
            raise ConnectionError("store hiccup")

    while drain(queue, send):
        pass
    assert seen == ["a1", "b1", "b2"]  # a2, a3 wait behind a1 (put off by its backoff); b goes on
    assert [e.payload["text"] for e in queue.entries()] == ["a1", "a2", "a3"]


def test_a_dead_entry_releases_its_group(tmp_path):
    queue = DurableQueue(tmp_path / "q.db")
    queue.put({"text": "a1"}, group="a")
    queue.put({"text": "a2"}, group="a")

    async def send(entry):
        if entry.payload["text"] == "a1":
            raise Permanent("malformed")

    drain(queue, send)
    assert drain(queue, send) == 1
    assert queue.counts() == {"pending": 0, "dead": 1}


def test_the_old_outbox_table_is_adopted_with_its_ids(tmp_path):
    import json
    import sqlite3

    from deskapi.outbox import EscalationOutbox

    path = tmp_path / "outbox.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL,"
                   " created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, delivered_at REAL)")
        db.execute("INSERT INTO outbox VALUES (4, ?, 1.0, 2, 'down', 5.0)", (json.dumps({"conversation_id": "x"}),))
        db.execute("INSERT INTO outbox VALUES (5, ?, 2.0, 1, 'down', NULL)", (json.dumps({"conversation_id": "y"}),))
    outbox = EscalationOutbox(path)
    assert outbox.pending() == [(5, {"conversation_id": "y"})]
    assert outbox.add({"conversation_id": "z"}) == 6  # references never reuse an old number
