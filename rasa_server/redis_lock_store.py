"""Rasa's Redis ticket lock, made atomic for several Rasa processes (the scale-out profile).

Stock ``RedisLockStore`` reads the conversation's lock, changes it in Python and
writes it back: two processes issuing a ticket for one conversation at the same
moment both read the same lock and the second write drops the first one's
ticket (RasaHQ/rasa#9213). Seen here: a message waited out its 120 s HTTP timeout
while both processes believed they held the conversation. Every read-modify-write
below runs as a Redis optimistic transaction (``WATCH`` / ``MULTI``), retried when
another process changed the lock in between, so tickets are never lost.

Configured in the scale-out endpoints: ``lock_store: type: rasa_server.redis_lock_store.AtomicRedisLockStore``.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional, Text, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose ticket changes are Redis transactions."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        # Rasa builds a custom lock store from its endpoint config; stock Redis takes host, port, db...
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: Text, change: Callable[[Optional[TicketLock]], T],
                create: bool = False) -> T:
        """Apply ``change`` to the stored lock atomically; an emptied lock is deleted."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else (
                        TicketLock(conversation_id) if create else None)
                    result = change(lock)
                    pipe.multi()
                    if lock is not None and lock.tickets:
                        pipe.set(key, lock.dumps())
                    elif raw:
                        pipe.delete(key)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another process changed this lock meanwhile: read it again

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return self._change(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime), create=True)
        except redis.RedisError as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}")

    def update_lock(self, conversation_id: Text) -> None:
        self._change(conversation_id, lambda lock: lock.remove_expired_tickets() if lock else None)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number) if lock else None)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Remove this ticket; the lock goes with its last ticket (in the same transaction)."""
        self.finish_serving(conversation_id, ticket_number)
