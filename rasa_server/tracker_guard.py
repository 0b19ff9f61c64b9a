"""No silent fallback to memory: a tracker store failure is an error the user and the operator see (SPEC §6).

Rasa 3.6 wraps every tracker store in ``FailSafeTrackerStore``: when the SQL
store fails it returns an empty tracker (the conversation's history silently
gone), answers as if nothing happened, and keeps the conversation in memory
until the next restart loses it. :func:`install` replaces that wrapper on the
loaded agent with :class:`StrictTrackerStore`, which raises
:class:`TrackerStoreUnavailable` instead; the input gate (channels/input_gate.py)
then keeps the user's message in the spool and tells them so, and the health
report shows the cause.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Iterable, Optional, Text

from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore, TrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)
RECENT_SECONDS = 60.0


class TrackerStoreUnavailable(Exception):
    """The conversation store could not read or write; nothing was answered from a blank tracker."""


class TrackerStoreMonitor:
    """The last failure of the store, for /health and for logging each outage once."""

    def __init__(self) -> None:
        self.last_error: Optional[str] = None
        self.last_error_at: float = float("-inf")
        self.failures = 0

    def failed(self, operation: str, error: Exception) -> None:
        first = time.monotonic() - self.last_error_at > RECENT_SECONDS
        self.failures += 1
        self.last_error, self.last_error_at = f"{operation}: {error!r}"[:300], time.monotonic()
        if first:
            logger.error("tracker store failed (%s); messages are kept in the spool until it recovers", self.last_error)

    def recently_failed(self) -> bool:
        return time.monotonic() - self.last_error_at < RECENT_SECONDS

    def recovered(self) -> None:
        if self.last_error is not None and self.recently_failed():
            logger.warning("tracker store answers again")
        self.last_error_at = float("-inf")


monitor = TrackerStoreMonitor()


class StrictTrackerStore(TrackerStore):
    """The real store, with its failures raised instead of papered over."""

    def __init__(self, inner: TrackerStore) -> None:
        self.inner = inner
        super().__init__(inner.domain, inner.event_broker)

    @property
    def domain(self) -> Any:
        return self.inner.domain

    @domain.setter
    def domain(self, domain: Any) -> None:
        self.inner.domain = domain

    async def _guard(self, operation: str, call: Any) -> Any:
        try:
            return await call
        except Exception as error:  # noqa: BLE001 - every failure of the store means the same to the user
            monitor.failed(operation, error)
            raise TrackerStoreUnavailable(f"{operation} failed: {error!r}") from error

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._guard("retrieve", self.inner.retrieve(sender_id))

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._guard("retrieve", self.inner.retrieve_full_tracker(sender_id))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._guard("save", self.inner.save(tracker))

    async def keys(self) -> Iterable[Text]:
        return await self._guard("keys", self.inner.keys())

    def ping(self) -> None:
        """Raise if the store cannot read its own table (health checks)."""
        if isinstance(self.inner, SQLTrackerStore):
            from sqlalchemy import func, select

            with self.inner.session_scope() as session:
                session.execute(select(func.max(self.inner.SQLEvent.id)))


def install(agent: Any) -> Optional[StrictTrackerStore]:
    """Swap the agent's fail-safe wrapper for the strict one (idempotent)."""
    store = getattr(agent, "tracker_store", None)
    if store is None or isinstance(store, StrictTrackerStore):
        return store
    inner = store._tracker_store if isinstance(store, FailSafeTrackerStore) else store
    strict = StrictTrackerStore(inner)
    agent.tracker_store = strict
    if getattr(agent, "processor", None) is not None:
        agent.processor.tracker_store = strict
    logger.info("tracker store %s: failures are reported, never replaced by memory", type(inner).__name__)
    return strict
