"""A SQL tracker store whose cost per turn does not grow with the conversation.

Rasa's ``SQLTrackerStore`` reloads every event of the conversation's session on
each message (JSON-decoding and replaying all of them) and counts them again
to find what to save, so turn 400 costs many times turn 1. This store keeps
recently used trackers in memory and, on each use, asks the database only for
the conversation's newest event id: if nothing was written since (by this or
another Rasa process) and the tracker holds no unsaved events, the kept tracker
is used as it is and only its new events are written. Anything else, a write
by another process or a turn that failed before saving, reloads from the
database, exactly as the stock store does. The database stays the source of
truth; the cache only saves work.

Configured in ``endpoints.yml`` as ``type: wallet_support.tracker_store.CachingSQLTrackerStore``
with the usual SQL settings (``dialect``, ``db``, ``url``…) plus ``cache_size``.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Text

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)


@dataclass
class _Kept:
    tracker: DialogueStateTracker
    saved_events: int  # how many of tracker.events are in the database
    newest_id: Optional[int]  # the conversation's newest event id when we last read or wrote it


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

    def _newest_id(self, sender_id: Text) -> Optional[int]:
        with self.session_scope() as session:
            return session.query(sa.func.max(self.SQLEvent.id)).filter(self.SQLEvent.sender_id == sender_id).scalar()

    @staticmethod
    def _is_compacted(tracker: DialogueStateTracker) -> bool:
        return bool(tracker.events) and isinstance(tracker.events[0], SessionStarted)

    def _keep(self, sender_id: Text, tracker: DialogueStateTracker, newest_id: Optional[int]) -> None:
        starts = [n for n, event in enumerate(tracker.events) if isinstance(event, SessionStarted)]
        if len(starts) > 1 or (starts and starts[0] > 1 and not self._is_compacted(tracker)):
            # A new session began in this object: the stock store holds only the latest session,
            # so reload it from the database next time rather than keep the old sessions' events.
            self._kept.pop(sender_id, None)
            return
        tracker = self._compacted(tracker)
        self._kept[sender_id] = _Kept(tracker, len(tracker.events), newest_id)
        self._kept.move_to_end(sender_id)
        while len(self._kept) > self.cache_size:
            self._kept.popitem(last=False)

    def _compacted(self, tracker: DialogueStateTracker) -> DialogueStateTracker:
        """A long conversation as the dialogue needs it: the state of its older part, then its recent turns.

        Rasa's policies featurize every event of the tracker on every turn, so even a
        kept tracker costs more as it grows. Past ``compact_above`` events the kept
        tracker is rebuilt from a snapshot (slots and active loop as they stood) plus
        the last ``keep_events``, cut at a user message. It is what a new session
        with carried-over slots gives, without forgetting the recent turns; the
        database keeps every event (the desk's transcript reads it).
        """
        events = list(tracker.events)
        if len(events) <= self.compact_above:
            return tracker
        start = len(events) - self.keep_events
        while start < len(events) and not isinstance(events[start], UserUttered):
            start += 1
        if start >= len(events):
            return tracker
        if start > 0 and isinstance(events[start - 1], ActionExecuted) and events[start - 1].action_name == ACTION_LISTEN_NAME:
            start -= 1
        before = DialogueStateTracker.from_events(tracker.sender_id, events[:start], self.domain.slots)
        snapshot: List[Event] = [SessionStarted(timestamp=events[start].timestamp)]
        snapshot += [SlotSet(name, value, timestamp=events[start].timestamp)
                     for name, value in before.current_slot_values().items() if value is not None]
        if before.active_loop_name:
            snapshot.append(ActiveLoop(before.active_loop_name, timestamp=events[start].timestamp))
        return DialogueStateTracker.from_events(tracker.sender_id, snapshot + events[start:], self.domain.slots)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        newest_id = self._newest_id(sender_id)
        kept = self._kept.get(sender_id)
        if kept is not None and kept.newest_id == newest_id and kept.saved_events == len(kept.tracker.events):
            self.hits += 1
            self._kept.move_to_end(sender_id)
            return kept.tracker
        self.misses += 1
        self._kept.pop(sender_id, None)
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            self._keep(sender_id, tracker, newest_id)
        return tracker

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        kept = self._kept.get(tracker.sender_id)
        if kept is not None and kept.tracker is tracker and kept.saved_events <= len(tracker.events):
            return itertools.islice(tracker.events, kept.saved_events, len(tracker.events))
        return super()._additional_events(session, tracker)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's ``SQLTrackerStore.save``, taking the newest id from its own insert instead of asking again."""
        await self.stream_events(tracker)
        try:
            with self.session_scope() as session:
                rows = [self._row(tracker.sender_id, event) for event in self._additional_events(session, tracker)]
                session.add_all(rows)
                session.flush()  # assigns the ids
                newest_id = max((row.id for row in rows), default=None)
                session.commit()
        except Exception:
            self._kept.pop(tracker.sender_id, None)  # unknown state: the next turn reloads
            raise
        if newest_id is None:  # nothing new: the conversation's newest id is unchanged, unless never known
            kept = self._kept.get(tracker.sender_id)
            newest_id = kept.newest_id if kept is not None and kept.tracker is tracker else self._newest_id(tracker.sender_id)
        self._keep(tracker.sender_id, tracker, newest_id)

    def _row(self, sender_id: Text, event: Event) -> Any:
        data = event.as_dict()
        return self.SQLEvent(sender_id=sender_id, type_name=event.type_name, timestamp=data.get("timestamp"),
                             intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                             action_name=data.get("name"), data=json.dumps(data))
