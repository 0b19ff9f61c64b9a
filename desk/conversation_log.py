"""Read-only view of Rasa's tracker store: what users said and what the bot did, per conversation.

The NLU inbox and the supervisors' report learn from every conversation, not only from the
ones that reached a ticket, so the desk reads Rasa's ``events`` table (the SQL tracker store of
``endpoints.yml``; ``DESK_TRACKER_DATABASE_URL``). It never writes there. The texts in it are
already redacted by the channels' input gate; the desk redacts again before storing anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from desk.db import make_engine

FALLBACK_INTENT = "nlu_fallback"
# The answer-feedback buttons (domain/responses_feedback.yml).
HELPFUL_INTENT, NOT_HELPFUL_INTENT = "answer_helpful", "answer_not_helpful"
ESCALATE_ACTION = "action_escalate"
FAQ_ACTION = "action_answer_faq"
CLARIFY_ACTION = "action_clarify"


@dataclass
class UserTurn:
    """One user message and what followed it until the next one."""

    event_id: int
    at: datetime
    text: str
    intent: Optional[str]
    confidence: float
    ranking: List[Dict[str, Any]]
    entities: List[Dict[str, Any]]
    channel: str
    actions: List[str] = field(default_factory=list)

    @property
    def is_payload(self) -> bool:
        return self.text.startswith("/")

    def best_guess(self) -> Tuple[Optional[str], float]:
        """The classifier's best intent other than the fallback, with its confidence."""
        for entry in self.ranking:
            if entry.get("name") and entry.get("name") != FALLBACK_INTENT:
                return str(entry["name"]), float(entry.get("confidence") or 0.0)
        return self.intent, self.confidence


@dataclass
class Conversation:
    conversation_id: str
    turns: List[UserTurn]

    @property
    def channel(self) -> str:
        return next((t.channel for t in self.turns if t.channel != "unknown"), "unknown")

    @property
    def escalated(self) -> bool:
        return any(ESCALATE_ACTION in t.actions for t in self.turns)


def _utc(timestamp: Optional[float]) -> datetime:
    return datetime.fromtimestamp(float(timestamp or 0.0), tz=timezone.utc).replace(tzinfo=None)


def _turns(rows: Iterable[Any]) -> List[UserTurn]:
    turns: List[UserTurn] = []
    for row in rows:
        if row.type_name == "user":
            data = json.loads(row.data or "{}")
            parse = data.get("parse_data") or {}
            intent = parse.get("intent") or {}
            text = str(data.get("text") or "")
            if text.startswith("EXTERNAL: "):
                continue  # triggered by the desk through Rasa's API, not said by the user
            turns.append(UserTurn(
                event_id=int(row.id), at=_utc(row.timestamp), text=text, intent=intent.get("name"),
                confidence=float(intent.get("confidence") or 0.0), ranking=list(parse.get("intent_ranking") or []),
                entities=list(parse.get("entities") or []), channel=str(data.get("input_channel") or "unknown")))
        elif row.type_name == "action" and turns and row.action_name:
            turns[-1].actions.append(str(row.action_name))
    return turns


class ConversationLog:
    """Conversations from the tracker store's ``events`` table, read in batches by event id."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Optional[Engine] = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def _events(self) -> Optional[sa.Table]:
        inspector = sa.inspect(self.engine)
        if not inspector.has_table("events"):
            return None  # Rasa has not stored a conversation yet
        return sa.Table("events", sa.MetaData(), autoload_with=self.engine)

    def changed_since(self, last_event_id: int, limit: int = 5000) -> Tuple[List[str], int]:
        """Conversations with events after ``last_event_id`` (at most ``limit`` events read), and the new mark."""
        events = self._events()
        if events is None:
            return [], last_event_id
        query = (sa.select(events.c.id, events.c.sender_id).where(events.c.id > last_event_id)
                 .order_by(events.c.id).limit(limit))
        with self.engine.connect() as connection:
            rows = connection.execute(query).fetchall()
        if not rows:
            return [], last_event_id
        return sorted({str(r.sender_id) for r in rows}), int(rows[-1].id)

    def conversations(self, ids: Optional[Sequence[str]] = None, since: Optional[datetime] = None,
                      until: Optional[datetime] = None) -> List[Conversation]:
        """Whole conversations (``ids``), or those with events in [since, until)."""
        events = self._events()
        if events is None:
            return []
        columns = (events.c.id, events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.action_name,
                   events.c.data)
        query = sa.select(*columns).where(events.c.type_name.in_(("user", "action"))).order_by(events.c.id)
        if ids is not None:
            query = query.where(events.c.sender_id.in_(list(ids)))
        if since is not None:
            query = query.where(events.c.timestamp >= since.replace(tzinfo=timezone.utc).timestamp())
        if until is not None:
            query = query.where(events.c.timestamp < until.replace(tzinfo=timezone.utc).timestamp())
        grouped: Dict[str, List[Any]] = {}
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                grouped.setdefault(str(row.sender_id), []).append(row)
        return [Conversation(sender, _turns(rows)) for sender, rows in grouped.items()]
