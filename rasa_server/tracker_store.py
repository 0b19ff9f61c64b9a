"""A SQL tracker store whose cost per turn does not grow with the conversation.

Rasa's ``SQLTrackerStore`` reloads every event of the conversation's session on
each message (JSON-decoding and replaying all of them) and counts them again
to find what to save, so turn 400 costs many times turn 1. This store keeps
recently used trackers in memory and, on each use, asks the database only for
the conversation's newest event id: if nothing was written since (by this or
another Rasa process) and the tracker holds no unsaved events, the kept tracker
is used as it is and only its new events are written. Anything else, a write
by another process or a turn that failed before saving, reloads from the
database. The database stays the source of truth; the cache only saves work.

Past ``compact_above`` events a session is compacted (a snapshot of its state, then its
recent turns) by a pure function of the session's stored events, applied alike to a tracker
kept in memory and to one read from the database: what the policies see does not depend on
whether the cache held the conversation (tests/rasa_server/test_tracker_cache_consistency.py).

On SQLite, with the optimisations on (settings.yml → ``performance``), the database runs in
write-ahead-log mode with ``synchronous=NORMAL``: at 128 concurrent conversations the
rollback journal's commits (an fsync each, readers in the other Rasa process blocked by
every writer) were a quarter of each process's CPU time (results/profile.md). A commit
in WAL mode survives the crash of any process, as before; only an operating-system crash
or power loss can take back the last commits, which the rollback journal would have kept.
Connections are kept in a small pool instead of opened per query. A conversation the
database has never seen is answered "none" from its newest-id query alone, without the three
session queries that would return nothing, and the new tracker Rasa then saves (under the same
conversation lock) is written without counting its stored events first.

Configured in ``endpoints.yml`` as ``type: rasa_server.tracker_store.CachingSQLTrackerStore``
with the usual SQL settings (``dialect``, ``db``, ``url``…) plus ``cache_size``.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Text, Tuple

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.pool import QueuePool
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, ConversationPaused, Event, SessionStarted, SlotSet, UserUttered, deserialise_events,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from safety.erasure import empty_write_ahead_log
from safety.redaction import SEED_CONTINUED_METADATA_KEY, hide_ending
from settings import get_settings

logger = logging.getLogger(__name__)


# How long "a retrieve found no event" is trusted by the save that follows it in the same turn
# (well within the conversation lock's lifetime); older, the stored events are counted again.
UNSTORED_TRUST_SECONDS = 20.0


@dataclass
class _Kept:
    tracker: DialogueStateTracker
    saved_events: int  # how many of tracker.events are in the database
    newest_id: Optional[int]  # the conversation's newest event id when we last read or wrote it
    dropped: int = 0  # how many of the session's first events the snapshot stands for (0: not compacted)
    snapshot: int = 0  # how many of tracker.events are that snapshot (they are not in the database)


def compaction_cut(tail: Sequence[Event], dropped: int, compact_above: int, keep_events: int) -> int:
    """Where the kept part of a session starts, as an index into the session's stored events.

    A pure function of the session's events: ``tail`` is the session from index ``dropped``
    on (the whole session when ``dropped`` is 0). Up to ``compact_above`` events nothing is
    dropped; beyond, the cut moves forward in steps of half ``compact_above - keep_events``
    events (room for the snapshot: the kept tracker stays within ``compact_above``),
    to the first user message at or after ``total - keep_events`` rounded down to a step (the
    latest user message before it if there is none), with the ``action_listen`` before it. It
    never moves back and depends only on events at or after the previous cut, so a kept tracker
    (snapshot + tail) and the full session read from the database give the same cut.
    """
    total = dropped + len(tail)
    if total <= compact_above:
        return dropped
    step = max(1, (compact_above - keep_events) // 2)
    target = ((total - keep_events) // step) * step
    users = [dropped + n for n, event in enumerate(tail) if isinstance(event, UserUttered)]
    if not users:
        return dropped
    cut = next((n for n in users if n >= target), users[-1])
    previous = cut - 1 - dropped
    if previous >= 0 and isinstance(tail[previous], ActionExecuted) and tail[previous].action_name == ACTION_LISTEN_NAME:
        cut -= 1
    return max(cut, dropped)


def _hide_ending_of(event: UserUttered) -> None:
    """The event's text (and its parse data's) with its trailing run of word-list words hidden."""
    hidden = hide_ending(event.text or "")
    event.text = hidden.text
    if isinstance(event.parse_data, dict):
        event.parse_data["text"] = hidden.text


def use_write_ahead_log(engine: Any) -> None:
    """SQLite in WAL mode (kept in the file) with ``synchronous=NORMAL`` on every connection of ``engine``."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    with engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode=WAL").scalar()
    if str(mode).lower() != "wal":
        logger.warning(f"SQLite tracker store stays in journal mode {mode!r} (WAL refused)")


def erase_freed_content(engine: Any) -> None:
    """``secure_delete`` on every SQLite connection of ``engine``: bytes a change frees are zeroed.

    Hiding the first part of a seed phrase rewrites a stored row; without this, the old text
    stayed in the page's free space, readable in the file though no query returns it.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()


class CachingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, cache_size: int = 5000, compact_above: int = 160, keep_events: int = 80,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache_size = int(cache_size)
        self.compact_above = int(compact_above)
        self.keep_events = int(keep_events)
        self._kept: "OrderedDict[str, _Kept]" = OrderedDict()
        self.hits = 0
        self.misses = 0
        # Conversations a retrieve just found without any stored event, with when (see _additional_events).
        self._unstored: "OrderedDict[str, float]" = OrderedDict()
        self._newest_id_sql = sa.text(f"SELECT max(id) FROM {self.SQLEvent.__table__.name} WHERE sender_id = :sender_id")
        self.optimised = get_settings().performance.optimisations
        # A stored text was rewritten (a seed's first part hidden) and the write-ahead log may still hold it.
        self._log_holds_hidden_text = False
        if self.engine.dialect.name == "sqlite":
            if self.optimised:
                self._reuse_connections()
            erase_freed_content(self.engine)
            if self.optimised:
                use_write_ahead_log(self.engine)

    def _reuse_connections(self) -> None:
        """A small pool of SQLite connections instead of SQLAlchemy 1.4's default for files
        (NullPool: a new connection, and its WAL set-up, for every query)."""
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, poolclass=QueuePool, pool_size=2, max_overflow=8,
                                       connect_args={"check_same_thread": False})
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def _newest_id(self, sender_id: Text) -> Optional[int]:
        """The conversation's newest event id: the one query of every turn, so a plain SQL string.

        As an ORM query SQLAlchemy 1.4 rebuilt its cache key on every call: under a flood
        of new conversations that was 30 % of the front Rasa process's busy time (py-spy).
        """
        with self.engine.connect() as connection:
            return connection.execute(self._newest_id_sql, {"sender_id": sender_id}).scalar()

    def _event_query(self, session: Any, sender_id: Text, fetch_events_from_all_sessions: bool) -> Any:
        """The conversation's events, or its latest session's: from the ``action_session_start`` before
        its latest ``SessionStarted``, in the order they were stored.

        The stock store cuts the latest session by timestamp, which drops that
        ``action_session_start`` (Rasa stamps the action before the events it returned) and
        depends on the clocks of every process that wrote. By insertion order the session read
        here is exactly the event list a Rasa process holds in memory for it, so a tracker
        read from the database and one kept by the cache are built from the same events.
        """
        query = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id)
        if not fetch_events_from_all_sessions:
            first = self._session_first_id(session, sender_id)
            if first is not None:
                query = query.filter(self.SQLEvent.id >= first)
        return query.order_by(self.SQLEvent.id)

    def _session_first_id(self, session: Any, sender_id: Text) -> Optional[int]:
        of_sender = self.SQLEvent.sender_id == sender_id
        started = session.query(sa.func.max(self.SQLEvent.id)).filter(
            of_sender, self.SQLEvent.type_name == SessionStarted.type_name).scalar()
        if started is None:
            return None
        before = session.query(self.SQLEvent.id, self.SQLEvent.type_name, self.SQLEvent.action_name).filter(
            of_sender, self.SQLEvent.id < started).order_by(self.SQLEvent.id.desc()).first()
        if before is not None and before.type_name == ActionExecuted.type_name \
                and before.action_name == ACTION_SESSION_START_NAME:
            return before.id
        return started

    def _keep(self, sender_id: Text, tracker: DialogueStateTracker, newest_id: Optional[int],
              dropped: int = 0, snapshot: int = 0) -> None:
        """Keep ``tracker`` (``snapshot`` events standing for the session's first ``dropped``), compacted."""
        tail = itertools.islice(tracker.events, snapshot, None)
        if any(isinstance(event, SessionStarted) and dropped + n > 1 for n, event in enumerate(tail)):
            # A new session began in this object: the stock store holds only the latest session,
            # so reload it from the database next time rather than keep the old sessions' events.
            self._kept.pop(sender_id, None)
            return
        compacted = self._compact(sender_id, list(tracker.events), dropped, snapshot)
        if compacted is not None:
            tracker, dropped, snapshot = compacted
        self._kept[sender_id] = _Kept(tracker, len(tracker.events), newest_id, dropped, snapshot)
        self._kept.move_to_end(sender_id)
        while len(self._kept) > self.cache_size:
            self._kept.popitem(last=False)

    def _compact(self, sender_id: Text, events: List[Event], dropped: int,
                 snapshot: int) -> Optional[Tuple[DialogueStateTracker, int, int]]:
        """A long conversation as the dialogue needs it: the state of its older part, then its recent turns.

        Rasa's policies featurize every event of the tracker on every turn, so even a
        kept tracker costs more as it grows. Past ``compact_above`` events the tracker
        is rebuilt from a snapshot (every slot that differs from its initial value, the
        active loop, a pause, as they stood at the cut) plus the session's events from
        the cut (``compaction_cut``) on. It is what a new session with carried-over
        slots gives, without forgetting the recent turns; the database keeps every event
        (the desk's transcript reads it). The result is a function of the session's
        events only: a tracker read from the database (``retrieve`` on a miss) and one
        kept in memory and compacted turn after turn are the same, so the policies see
        the same history whatever the cache holds.
        """
        cut = compaction_cut(events[snapshot:], dropped, self.compact_above, self.keep_events)
        if cut == dropped:
            return None  # nothing more to drop: keep it as it is
        at = snapshot + cut - dropped  # the cut, as an index into ``events``
        before = DialogueStateTracker.from_events(sender_id, events[:at], self.domain.slots)
        stamp = events[at].timestamp
        state: List[Event] = [SessionStarted(timestamp=stamp)]
        state += [SlotSet(name, slot.value, timestamp=stamp)
                  for name, slot in before.slots.items() if slot.value != slot.initial_value]
        if before.active_loop_name:
            state.append(ActiveLoop(before.active_loop_name, timestamp=stamp))
        if before.is_paused():
            state.append(ConversationPaused(timestamp=stamp))
        compacted = DialogueStateTracker.from_events(sender_id, state + events[at:], self.domain.slots)
        return compacted, cut, len(state)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        self._unstored.pop(sender_id, None)
        newest_id = self._newest_id(sender_id)
        kept = self._kept.get(sender_id)
        if kept is not None and kept.newest_id == newest_id and kept.saved_events == len(kept.tracker.events):
            self.hits += 1
            self._kept.move_to_end(sender_id)
            return kept.tracker
        self.misses += 1
        self._kept.pop(sender_id, None)
        if newest_id is None and self.optimised:
            self._unstored[sender_id] = time.monotonic()
            while len(self._unstored) > max(self.cache_size, 1000):
                self._unstored.popitem(last=False)
            return None  # no event at all: what the session queries below would conclude
        # The latest session, as the stock store reads it, compacted exactly as a kept tracker
        # would be; the events are decoded once and replayed once.
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
            events = deserialise_events([json.loads(row.data) for row in rows])
        if not self.domain or not events:
            return None
        compacted = self._compact(sender_id, events, 0, 0)
        tracker, dropped, snapshot = compacted or (
            DialogueStateTracker.from_events(sender_id, events, self.domain.slots), 0, 0)
        self._keep(sender_id, tracker, newest_id, dropped, snapshot)
        return tracker

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        kept = self._kept.get(tracker.sender_id)
        if kept is not None and kept.tracker is tracker and kept.saved_events <= len(tracker.events):
            return itertools.islice(tracker.events, kept.saved_events, len(tracker.events))
        found_none_at = self._unstored.pop(tracker.sender_id, None)
        if found_none_at is not None and time.monotonic() - found_none_at < UNSTORED_TRUST_SECONDS:
            # The turn's retrieve found no event for this conversation, and its lock has been held
            # since: every event is new (Rasa's count below would say 0 after three queries).
            return iter(list(tracker.events))
        return super()._additional_events(session, tracker)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's ``SQLTrackerStore.save`` as one Core insert, taking the newest id from the insert itself.

        The stock save adds an ORM object per event and flushes the session (SQLAlchemy's
        unit of work: identity map, per-object state, one INSERT each): a fifth of the Rasa
        worker's busy time in a surge (results/profile.md). The same rows go in as an
        ``executemany`` and the last one alone, so its primary key is the conversation's
        newest id (all rows are written in one transaction under the conversation's lock).
        """
        await self.stream_events(tracker)
        try:
            with self.session_scope() as session:
                new_events = list(self._additional_events(session, tracker))
                rewrote = self._hide_seed_starts(session, tracker, new_events)
                rows = [self._values(tracker.sender_id, event) for event in new_events]
                newest_id = None
                if rows:
                    table = self.SQLEvent.__table__
                    if len(rows) > 1:
                        session.execute(table.insert(), rows[:-1])
                    newest_id = session.execute(table.insert(), rows[-1]).inserted_primary_key[0]
                session.commit()
        except Exception:
            self._kept.pop(tracker.sender_id, None)  # unknown state: the next turn reloads
            raise
        if rewrote or self._log_holds_hidden_text:
            # The log's frames still hold the hidden text; a reader in the way: tried again after the next save.
            self._log_holds_hidden_text = not empty_write_ahead_log(self.engine)
        kept = self._kept.get(tracker.sender_id)
        ours = kept if kept is not None and kept.tracker is tracker else None
        if newest_id is None:  # nothing new: the conversation's newest id is unchanged, unless never known
            newest_id = ours.newest_id if ours is not None else self._newest_id(tracker.sender_id)
        self._keep(tracker.sender_id, tracker, newest_id, *((ours.dropped, ours.snapshot) if ours else (0, 0)))

    def _hide_seed_starts(self, session: Any, tracker: DialogueStateTracker, new_events: Sequence[Event]) -> bool:
        """Hide the end of the stored user message that a new one continued into a seed phrase.

        The input gate hides the start of a message that continues the previous one into a seed,
        but the previous message (the phrase's first part, one or two words, or words that read
        as English alone) was stored a turn ago. The gate flags the new message
        (``SEED_CONTINUED_METADATA_KEY``); here, in the same transaction as the new turn, the
        conversation's newest stored user message gets its trailing run of word-list words
        replaced by the marker, in the database and in the tracker kept in memory.
        Returns whether a stored row was rewritten.
        """
        rewrote = False
        flagged = [e for e in new_events if isinstance(e, UserUttered)
                   and (e.metadata or {}).get(SEED_CONTINUED_METADATA_KEY)]
        for event in flagged:
            earlier = [e for e in tracker.events if isinstance(e, UserUttered)]
            position = next((i for i, e in enumerate(earlier) if e is event), None)
            previous = earlier[position - 1] if position else None
            if previous is not None and any(previous is e for e in new_events):
                _hide_ending_of(previous)  # not stored yet: it is written hidden
                continue
            table = self.SQLEvent.__table__
            row = session.execute(
                sa.select(table.c.id, table.c.data)
                .where(table.c.sender_id == tracker.sender_id, table.c.type_name == UserUttered.type_name)
                .order_by(table.c.id.desc()).limit(1)).first()
            if row is None:
                continue
            data = json.loads(row.data)
            hidden = hide_ending(data.get("text") or "")
            if hidden.text == data.get("text"):
                continue
            data["text"] = hidden.text
            if isinstance(data.get("parse_data"), dict):
                data["parse_data"]["text"] = hidden.text
            session.execute(table.update().where(table.c.id == row.id).values(data=json.dumps(data)))
            rewrote = True
            if previous is not None:
                _hide_ending_of(previous)
        return rewrote

    @staticmethod
    def _values(sender_id: Text, event: Event) -> Dict[str, Any]:
        """The ``events`` row of one event, as Rasa's ``SQLTrackerStore`` writes it."""
        data = event.as_dict()
        return {"sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                "action_name": data.get("name"), "data": json.dumps(data)}
