"""Escalations the desk could not take yet, kept on disk and retried until it has them (SPEC §6).

When the desk is down the user is told their request is recorded, and it is:
in SQLite next to the action server, not in memory. A background task of the
action server (actions/server.py) sends what is pending every few seconds and
at start-up, so neither a desk outage nor an action-server restart loses one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from actions.desk_client import DeskUnavailable, get_desk_client
from wallet_support.settings import PROJECT_ROOT, get_settings

logger = logging.getLogger(__name__)
RETRY_SECONDS = 5.0


class EscalationOutbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL,"
                         " created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
                         " delivered_at REAL)")
        self._lock = threading.Lock()

    def add(self, payload: Dict[str, Any]) -> int:
        with self._lock:
            cursor = self._db.execute("INSERT INTO outbox (payload, created_at) VALUES (?, ?)",
                                      (json.dumps(payload, ensure_ascii=False), time.time()))
            return int(cursor.lastrowid)

    def pending(self) -> List[Tuple[int, Dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute("SELECT id, payload FROM outbox WHERE delivered_at IS NULL ORDER BY id").fetchall()
        return [(row[0], json.loads(row[1])) for row in rows]

    def delivered(self, entry_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET delivered_at = ? WHERE id = ?", (time.time(), entry_id))

    def failed(self, entry_id: int, error: str) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:255], entry_id))


_outbox: Optional[EscalationOutbox] = None


def get_outbox() -> EscalationOutbox:
    global _outbox
    if _outbox is None:
        path = Path(get_settings().desk.escalation_outbox)
        _outbox = EscalationOutbox(path if path.is_absolute() else PROJECT_ROOT / path)
    return _outbox


async def flush_once(outbox: EscalationOutbox) -> int:
    """Send what is pending, oldest first; stop at the first failure (the desk is still down)."""
    desk = get_desk_client()
    sent = 0
    if desk is None:
        return sent
    for entry_id, payload in outbox.pending():
        try:
            await desk.escalate(payload)
        except DeskUnavailable as error:
            outbox.failed(entry_id, str(error))
            break
        outbox.delivered(entry_id)
        sent += 1
    if sent:
        logger.info("outbox: %d escalation(s) delivered to the desk", sent)
    return sent


async def flush_forever(outbox: EscalationOutbox, every: float = RETRY_SECONDS) -> None:
    while True:
        try:
            await flush_once(outbox)
        except Exception:  # the loop must outlive one bad round
            logger.exception("outbox round failed")
        await asyncio.sleep(every)
