"""One durable queue on SQLite, shared by every "keep it on disk and retry" in the project.

Users: the action server's escalation outbox and the gateway's outbox
(deskapi/outbox.py), the message spool replayed when the tracker store is back
(rasa_server/spool.py), and the Telegram update ledger (channels/telegram.py).

An entry is ``pending`` until it is acknowledged (``done``) or given up on
(``dead``, with the reason in ``last_error``). Several processes may share one
file (WAL, busy timeout): :meth:`DurableQueue.claim` leases entries with one
atomic ``UPDATE ... WHERE`` the lease has expired, so no two processes get the
same entry while its lease runs. A failure counts an attempt and puts the entry
off with exponential backoff (``next_attempt_at``); after ``max_attempts``, or at
once for :class:`Permanent`, it is dead. A failing entry never holds up the
entries behind it, except those of its own ``group`` (entries of one group are
handed out strictly in order, one at a time: the spool's conversations).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, Union

logger = logging.getLogger(__name__)

PENDING, DONE, DEAD = "pending", "done", "dead"
_COLUMNS = "id, payload, key, grp, state, attempts, created_at, next_attempt_at, last_error"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS queue_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE, grp TEXT,"
    " payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', created_at REAL NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, lease_until REAL NOT NULL DEFAULT 0,"
    " lease_owner TEXT, last_error TEXT, finished_at REAL)",
    "CREATE INDEX IF NOT EXISTS queue_due ON queue_entries (state, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS queue_groups ON queue_entries (grp, state, id)",
)
# Due, not leased, and (in a group) the group's oldest pending entry.
_CLAIMABLE = ("e.state = 'pending' AND e.next_attempt_at <= :now AND e.lease_until <= :now AND (e.grp IS NULL OR"
              " NOT EXISTS (SELECT 1 FROM queue_entries b WHERE b.grp = e.grp AND b.state = 'pending' AND b.id < e.id))")


class Permanent(Exception):
    """Raised by a sender when this entry can never succeed (say the desk refused it with a 4xx): dead at once."""


@dataclass(frozen=True)
class Entry:
    id: int
    payload: Any
    key: Optional[str]
    group: Optional[str]
    state: str
    attempts: int
    created_at: float
    next_attempt_at: float
    last_error: Optional[str]


def _entry(row: tuple) -> Entry:
    return Entry(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5], row[6], row[7], row[8])


def _holder_is_gone(owner: Optional[str]) -> bool:
    """True when a lease is held by another process of this machine that no longer runs (it crashed)."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, someone else's
        return False
    return False


class DurableQueue:
    def __init__(self, path: Union[str, Path], *, max_attempts: int = 10, base_delay: float = 2.0,
                 max_delay: float = 300.0, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_attempts, self.base_delay, self.max_delay = max_attempts, base_delay, max_delay
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=busy_timeout, check_same_thread=False, isolation_level=None)
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self._db.execute("PRAGMA journal_mode=WAL")
        with self._transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure: base, 2×base, 4×base … up to max_delay."""
        return min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))

    def put(self, payload: Any, key: Optional[str] = None, group: Optional[str] = None) -> Entry:
        """Add an entry; with a ``key`` already present, the existing entry is returned and nothing is added."""
        now = time.time()
        with self._transaction() as db:
            if key is not None:
                row = db.execute(f"SELECT {_COLUMNS} FROM queue_entries WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    return _entry(row)
            row = db.execute(f"INSERT INTO queue_entries (key, grp, payload, created_at, next_attempt_at)"
                             f" VALUES (?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                             (key, group, json.dumps(payload, ensure_ascii=False), now, now)).fetchone()
        return _entry(row)

    def claim(self, limit: int, lease_seconds: float) -> List[Entry]:
        """Lease up to ``limit`` due entries to this process, oldest first (one atomic UPDATE)."""
        now = time.time()
        with self._lock:
            rows = self._db.execute(
                f"UPDATE queue_entries SET lease_until = :until, lease_owner = :owner WHERE id IN"
                f" (SELECT e.id FROM queue_entries e WHERE {_CLAIMABLE} ORDER BY e.id LIMIT :limit)"
                f" RETURNING {_COLUMNS}",
                {"now": now, "until": now + lease_seconds, "owner": self.owner, "limit": limit}).fetchall()
        return sorted((_entry(row) for row in rows), key=lambda entry: entry.id)

    def claim_entry(self, entry_id: int, lease_seconds: float) -> bool:
        """Lease this one pending entry, unless another holder's lease still runs (and that holder is alive)."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT state, lease_until, lease_owner FROM queue_entries WHERE id = ?", (entry_id,)).fetchone()
            if row is None or row[0] != PENDING or (row[1] > now and not _holder_is_gone(row[2])):
                return False
            db.execute("UPDATE queue_entries SET lease_until = ?, lease_owner = ? WHERE id = ?",
                       (now + lease_seconds, self.owner, entry_id))
            return True

    def ack(self, entry_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE queue_entries SET state = 'done', finished_at = ?, lease_until = 0, lease_owner = NULL"
                             " WHERE id = ? AND state = 'pending'", (time.time(), entry_id))

    def fail(self, entry_id: int, error: str, permanent: bool = False) -> Optional[str]:
        """Count a failed attempt: put the entry off (backoff), or dead-letter it. Returns its new state."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT attempts, state FROM queue_entries WHERE id = ?", (entry_id,)).fetchone()
            if row is None or row[1] != PENDING:
                return None if row is None else row[1]
            attempts = row[0] + 1
            if permanent or attempts >= self.max_attempts:
                reason = "permanent failure" if permanent else f"gave up after {attempts} attempts"
                db.execute("UPDATE queue_entries SET state = 'dead', attempts = ?, last_error = ?, finished_at = ?,"
                           " lease_until = 0, lease_owner = NULL WHERE id = ?",
                           (attempts, f"{reason}: {error}"[:1000], now, entry_id))
                return DEAD
            db.execute("UPDATE queue_entries SET attempts = ?, last_error = ?, next_attempt_at = ?, lease_until = 0,"
                       " lease_owner = NULL WHERE id = ?", (attempts, error[:1000], now + self.backoff(attempts), entry_id))
            return PENDING

    def get(self, key: str) -> Optional[Entry]:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM queue_entries WHERE key = ?", (key,)).fetchone()
        return None if row is None else _entry(row)

    def entries(self, state: str = PENDING) -> List[Entry]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM queue_entries WHERE state = ? ORDER BY id", (state,)).fetchall()
        return [_entry(row) for row in rows]

    def has_due(self) -> bool:
        with self._lock:
            return self._db.execute(f"SELECT 1 FROM queue_entries e WHERE {_CLAIMABLE} LIMIT 1",
                                    {"now": time.time()}).fetchone() is not None

    def counts(self) -> Dict[str, int]:
        """``{"pending": n, "dead": n}``: the backlog and the dead letters, for health reports."""
        with self._lock:
            found = dict(self._db.execute("SELECT state, COUNT(*) FROM queue_entries WHERE state IN ('pending', 'dead')"
                                          " GROUP BY state").fetchall())
        return {PENDING: found.get(PENDING, 0), DEAD: found.get(DEAD, 0)}

    def adopt_legacy(self, table: str, select: str) -> int:
        """Move the rows of the hand-written table this file held before into the queue, once, keeping their ids.

        ``select`` reads ``table`` as (id, key, group, payload JSON, state, created_at, attempts, last_error);
        the old table is then renamed ``<table>_adopted``.
        """
        now = time.time()
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is None:
                return 0
            rows = db.execute(select).fetchall()
            db.executemany("INSERT OR IGNORE INTO queue_entries (id, key, grp, payload, state, created_at, attempts,"
                           " last_error, next_attempt_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(*row, now, None if row[4] == PENDING else now) for row in rows])
            db.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_adopted"')
        if rows:
            logger.info("%s: %d entries of the old %s table adopted", self.path.name, len(rows), table)
        return len(rows)


Sender = Callable[[Entry], Awaitable[Any]]
Ready = Callable[[], Union[bool, Awaitable[bool]]]


async def drain_once(queue: DurableQueue, send: Sender, *, ready: Optional[Ready] = None, limit: int = 20,
                     lease_seconds: float = 120.0, name: str = "queue") -> int:
    """Send the due entries once; returns how many were delivered.

    ``ready`` (sync or async) says whether the destination answers at all; while it
    does not, nothing is claimed and no attempt is counted (an outage is nobody's fault).
    ``send`` raises :class:`Permanent` for an entry that can never succeed, anything else to retry later.
    """
    if not queue.has_due():
        return 0
    if ready is not None:
        answer = ready()
        if not (await answer if inspect.isawaitable(answer) else answer):
            return 0
    delivered = 0
    for entry in queue.claim(limit, lease_seconds):
        try:
            await send(entry)
        except Permanent as error:
            queue.fail(entry.id, str(error) or repr(error), permanent=True)
            logger.error("%s: entry %d refused for good, dead-lettered: %s", name, entry.id, error)
        except Exception as error:  # noqa: BLE001 - retried later, whatever went wrong
            state = queue.fail(entry.id, repr(error))
            log = logger.error if state == DEAD else logger.warning
            log("%s: entry %d failed (attempt %d)%s: %r", name, entry.id, entry.attempts + 1,
                ", dead-lettered" if state == DEAD else "", error)
        else:
            queue.ack(entry.id)
            delivered += 1
    if delivered:
        logger.info("%s: %d entr%s delivered", name, delivered, "y" if delivered == 1 else "ies")
    return delivered


async def drain_forever(queue: DurableQueue, send: Sender, *, ready: Optional[Ready] = None, every: float = 5.0,
                        limit: int = 20, lease_seconds: float = 120.0, name: str = "queue") -> None:
    """:func:`drain_once` at start and every ``every`` seconds; at once again while rounds deliver something."""
    while True:
        try:
            delivered = await drain_once(queue, send, ready=ready, limit=limit, lease_seconds=lease_seconds, name=name)
        except Exception:  # noqa: BLE001 - the loop must outlive one bad round
            logger.exception("%s: drain round failed", name)
            delivered = 0
        await asyncio.sleep(0 if delivered else every)
