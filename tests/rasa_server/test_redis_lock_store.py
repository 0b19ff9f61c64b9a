"""Two processes taking tickets for one conversation at once never lose one (stock RedisLockStore did).

Needs Debian's redis-server (installed for the scale-out profile); skipped without it outside CI.
"""

import multiprocessing
import os
import shutil
import socket
import subprocess
import time

import pytest

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
pytestmark = pytest.mark.skipif(not os.path.exists(REDIS) and not os.environ.get("CI"), reason="no redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    port = _free_port()
    server = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--dir", str(tmp_path_factory.mktemp("redis"))], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield port
    server.terminate()
    server.wait(timeout=10)


def _take_tickets(args):
    kind, port, conversation, count = args
    from rasa.core.lock_store import RedisLockStore

    from rasa_server.redis_lock_store import AtomicRedisLockStore

    store = (AtomicRedisLockStore if kind == "atomic" else RedisLockStore)(host="127.0.0.1", port=port, db=1)
    return [store.issue_ticket(conversation, 60) for _ in range(count)]


@pytest.mark.parametrize("kind, lossless", [("stock", False), ("atomic", True)])
def test_tickets_issued_by_two_processes_at_once(redis_port, kind, lossless):
    conversation = f"race-{kind}"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        issued = sum(pool.map(_take_tickets, [(kind, redis_port, conversation, 200)] * 4), [])
    from rasa_server.redis_lock_store import AtomicRedisLockStore

    stored = AtomicRedisLockStore(host="127.0.0.1", port=redis_port, db=1).get_lock(conversation)
    kept = len(stored.tickets) if stored else 0
    if lossless:
        assert kept == len(issued) == 800 and len(set(issued)) == 800  # every ticket kept, none issued twice
    else:
        assert kept < len(issued) or len(set(issued)) < len(issued)  # the race the atomic store closes
