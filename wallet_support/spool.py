"""Messages the bot could not process because its conversation store failed, kept on disk (SPEC §6).

The input gate puts a message here when the tracker store is down and tells the
user it is kept; :func:`replay_forever` (started in the Rasa process by the
action gateway) hands each one to Rasa again, in order, once the store answers,
on the channel it came from. The text is stored as the gate left it: cleaned,
secrets already redacted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional

logger = logging.getLogger(__name__)
REPLAY_SECONDS = 3.0


class MessageSpool:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, sender_id TEXT NOT NULL,"
                         " text TEXT NOT NULL, input_channel TEXT, metadata TEXT, created_at REAL NOT NULL,"
                         " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, replayed_at REAL)")
        self._lock = threading.Lock()

    def keep(self, sender_id: str, text: str, input_channel: Optional[str], metadata: Optional[Dict[str, Any]]) -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO spool (sender_id, text, input_channel, metadata, created_at) VALUES (?, ?, ?, ?, ?)",
                (sender_id, text, input_channel, json.dumps(metadata or {}, ensure_ascii=False), time.time()))
            return int(cursor.lastrowid)

    def pending(self) -> List[Dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, sender_id, text, input_channel, metadata FROM spool"
                                    " WHERE replayed_at IS NULL ORDER BY id").fetchall()
        return [{"id": r[0], "sender_id": r[1], "text": r[2], "input_channel": r[3], "metadata": json.loads(r[4] or "{}")}
                for r in rows]

    def replayed(self, entry_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE spool SET replayed_at = ? WHERE id = ?", (time.time(), entry_id))

    def failed(self, entry_id: int, error: str) -> None:
        with self._lock:
            self._db.execute("UPDATE spool SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:255], entry_id))


_spool: Optional[MessageSpool] = None


def get_spool() -> MessageSpool:
    global _spool
    if _spool is None:
        from wallet_support.settings import PROJECT_ROOT, get_settings

        path = Path(get_settings().message_spool)
        _spool = MessageSpool(path if path.is_absolute() else PROJECT_ROOT / path)
    return _spool


async def replay_once(spool: MessageSpool, ready: Callable[[], bool],
                      handle: Callable[[Dict[str, Any]], Awaitable[None]]) -> int:
    """Hand kept messages back to Rasa, oldest first, while the store answers; stop at the first failure."""
    entries = spool.pending()
    if not entries or not ready():
        return 0
    done = 0
    for entry in entries:
        try:
            await handle(entry)
        except Exception as error:  # noqa: BLE001 - kept for the next round, whatever went wrong
            spool.failed(entry["id"], repr(error))
            logger.warning("replay of kept message %d failed: %r", entry["id"], error)
            break
        spool.replayed(entry["id"])
        done += 1
    if done:
        logger.info("replayed %d kept message(s)", done)
    return done


async def replay_forever(spool: MessageSpool, ready: Callable[[], bool],
                         handle: Callable[[Dict[str, Any]], Awaitable[None]], every: float = REPLAY_SECONDS) -> None:
    while True:
        try:
            await replay_once(spool, ready, handle)
        except Exception:  # the loop must outlive one bad round
            logger.exception("spool replay round failed")
        await asyncio.sleep(every)
