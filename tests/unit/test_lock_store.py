"""FileLockStore: one conversation at a time across processes and coroutines (rasa_server/lock_store.py)."""

import asyncio
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rasa_server.lock_store import FileLockStore

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import asyncio, sys
from rasa_server.lock_store import FileLockStore

async def main():
    async with FileLockStore(path=sys.argv[1]).lock(sys.argv[2]):
        print("held", flush=True)
        await asyncio.sleep(float(sys.argv[3]))

asyncio.run(main())
"""


@pytest.fixture
def lock_file(tmp_path):
    return str(tmp_path / "conversation.locks")


def hold_in_another_process(lock_file, conversation_id, seconds):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, lock_file, conversation_id, str(seconds)],
                              stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT,
                              env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert holder.stdout.readline().strip() == "held"
    return holder


async def seconds_to_lock(store, conversation_id, **kwargs):
    started = time.monotonic()
    async with store.lock(conversation_id, **kwargs):
        return time.monotonic() - started


def test_a_conversation_locked_by_another_process_waits_for_it_and_others_do_not(lock_file):
    holder = hold_in_another_process(lock_file, "c-1", 1.5)
    try:
        store = FileLockStore(path=lock_file)
        assert asyncio.run(seconds_to_lock(store, "c-2")) < 0.2
        assert asyncio.run(seconds_to_lock(store, "c-1")) > 0.8
        assert holder.wait(timeout=10) == 0
    finally:
        holder.kill()


def test_a_killed_holder_frees_the_lock_at_once(lock_file):
    holder = hold_in_another_process(lock_file, "c-1", 60)
    store = FileLockStore(path=lock_file)

    async def kill_then_lock():
        waiting = asyncio.ensure_future(seconds_to_lock(store, "c-1"))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        holder.kill()
        return await asyncio.wait_for(waiting, timeout=5)

    try:
        assert asyncio.run(kill_then_lock()) < 2
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_held_past_its_lifetime_is_given_up_on_with_a_warning(lock_file, caplog):
    holder = hold_in_another_process(lock_file, "c-1", 60)
    try:
        with caplog.at_level(logging.WARNING, logger="rasa_server.lock_store"):
            waited = asyncio.run(seconds_to_lock(FileLockStore(path=lock_file), "c-1", lock_lifetime=0.5))
        assert 0.4 < waited < 2
        assert "held its lock for over" in caplog.text
    finally:
        holder.kill()
        holder.wait()


def test_coroutines_of_one_process_take_turns_in_arrival_order(lock_file):
    store = FileLockStore(path=lock_file)
    timeline = []

    async def turn(conversation_id, name):
        async with store.lock(conversation_id):
            timeline.append(f"{name} in")
            await asyncio.sleep(0.05)
            timeline.append(f"{name} out")

    async def main():
        await asyncio.gather(turn("c-1", "a"), turn("c-1", "b"), turn("c-1", "c"), turn("c-2", "x"))

    started = time.monotonic()
    asyncio.run(main())
    same = [event for event in timeline if event[0] in "abc"]
    assert same == ["a in", "a out", "b in", "b out", "c in", "c out"]
    assert timeline.index("x in") < timeline.index("a out")  # another conversation is not held up
    assert time.monotonic() - started < 1
    assert store._queues == {} and store._users == {}


def test_two_stores_on_one_file_share_the_descriptor(lock_file):
    """Closing a second descriptor would silently drop the first store's locks (POSIX)."""
    assert FileLockStore(path=lock_file)._fd == FileLockStore(path=lock_file)._fd
