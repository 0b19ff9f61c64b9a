"""Conversation locks shared by the Rasa processes of one machine, without Redis.

Rasa processes one message of a conversation at a time by taking the
conversation's lock. Its default ``InMemoryLockStore`` only covers one process;
with a second Rasa process (the message worker, ``rasa_server/workers.py``)
both could run a turn of the same conversation at once (a user's message on
one, an agent's reply triggered by the desk on the other) and interleave the
events. ``RedisLockStore`` fixes that for the scale-out profile; this store fixes
it on embedded defaults with POSIX record locks on one file: conversation ids
hash to one byte each of ``var/conversation.locks``.

- The kernel releases a process's locks when it dies, even by ``kill -9``: no
  stale lock waits out a lifetime after a crash.
- Record locks belong to a process, not to a coroutine, so coroutines of one
  process first queue on an asyncio lock per byte (in arrival order), and only
  the one at the head takes the file lock.
- Two conversations that hash to the same byte (1 in 65,536) wait for each
  other; they are never both let in.
- A lock held past ``lock_lifetime`` (Rasa's 60 s default) is given up on with a
  warning, as Rasa's ticket locks expire, so a frozen process cannot silence a
  conversation for good.

Configured in ``endpoints.yml``: ``lock_store: type: rasa_server.lock_store.FileLockStore``
with ``path``.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import threading
import time
import zlib
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncGenerator, Dict, Optional, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

SLOTS = 1 << 16
FIRST_WAIT_SECONDS = 0.005
LONGEST_WAIT_SECONDS = 0.1

# One descriptor per lock file and process: closing any descriptor of a file drops every
# record lock the process holds on it, so a second store on the same file must share it.
_descriptors: Dict[Path, int] = {}
_descriptors_lock = threading.Lock()


def _descriptor(path: Path) -> int:
    path = path.resolve()
    with _descriptors_lock:
        if path not in _descriptors:
            path.parent.mkdir(parents=True, exist_ok=True)
            _descriptors[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return _descriptors[path]


class FileLockStore(LockStore):
    """Rasa's lock store interface over one lock file shared by the machine's Rasa processes."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, path: str = "var/conversation.locks") -> None:
        kwargs = endpoint_config.kwargs if endpoint_config is not None else {}
        self.path = Path(kwargs.get("path", path))
        self._fd = _descriptor(self.path)
        self._queues: Dict[int, asyncio.Lock] = {}
        self._users: Dict[int, int] = {}

    @staticmethod
    def slot(conversation_id: Text) -> int:
        return zlib.crc32(conversation_id.encode("utf-8")) % SLOTS

    def _try_lock(self, slot: int) -> bool:
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot)
            return True
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EAGAIN):
                return False
            raise

    async def _acquire(self, slot: int, conversation_id: Text, lock_lifetime: float) -> bool:
        """Take the file lock of ``slot``; False when another process kept it past the lifetime."""
        deadline = time.monotonic() + lock_lifetime
        wait = FIRST_WAIT_SECONDS
        while not self._try_lock(slot):
            if time.monotonic() >= deadline:
                logger.warning("conversation %s: another process held its lock for over %.0f s; going ahead",
                               conversation_id, lock_lifetime)
                return False
            await asyncio.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT_SECONDS)
        return True

    @asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        slot = self.slot(conversation_id)
        queue = self._queues.setdefault(slot, asyncio.Lock())
        self._users[slot] = self._users.get(slot, 0) + 1
        try:
            async with queue:
                locked = await self._acquire(slot, conversation_id, lock_lifetime)
                try:
                    yield TicketLock(conversation_id)
                finally:
                    if locked:
                        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, slot)
        finally:
            self._users[slot] -= 1
            if not self._users[slot]:
                del self._users[slot]
                del self._queues[slot]

    # Rasa's ticket API, used only by its own ``lock`` (replaced above); kept so the interface is whole.
    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        return None

    def save_lock(self, lock: TicketLock) -> None:
        return None

    def delete_lock(self, conversation_id: Text) -> None:
        return None
