"""The NLU inbox: user messages the bot failed on, harvested from every conversation, and their review.

Why a message is here (``reason``, most telling first): the user rated the answer not helpful;
the bot asked a clarifying question and the user then chose a topic (offered as the suggested
label); the bot fell back; it answered with low confidence; the conversation was escalated; an
agent flagged it from a ticket. Reviewers mark it correct (label = the prediction), relabel it
or discard it; ``desk.export_nlu`` turns the labels into training data.

Texts come from the tracker store (already redacted by the channels) and are redacted again.
Near-identical messages share a ``group_key``: during an outage the same question arrives
hundreds of times, and a reviewer labels the group once.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

import yaml
from sqlalchemy import func, select

from desk.conversation_log import (CLARIFY_ACTION, FALLBACK_INTENT, NOT_HELPFUL_INTENT, Conversation, ConversationLog,
                                   UserTurn)
from desk.db import REWROTE_TEXT, Database
from desk.models import DISCARD_REASONS, INBOX_REASONS, Agent, NluHarvestState, NluInboxItem, Ticket, TicketMessage
from desk.service import DeskError, clean_text
from safety.redaction import MARKERS
from safety.text import detect_language, to_simplified

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Answered, but below this the bot was guessing (the FallbackClassifier asks below 0.4).
LOW_CONFIDENCE = 0.6
# Button answers that are not a topic choice after a clarifying question.
NOT_A_TOPIC = frozenset({"deny", "request_human", "affirm", "cancel_handoff", "ticket_status"})
STATUS_FILTERS = ("pending", "labelled", "discarded", "all")
REASON_RANK = {reason: rank for rank, reason in enumerate(INBOX_REASONS)}


@lru_cache(maxsize=1)
def domain_vocabulary() -> Dict[str, List[str]]:
    """The intents and entities a label may use (``domain/*.yml``)."""
    intents: List[str] = []
    entities: List[str] = []
    for path in sorted((PROJECT_ROOT / "domain").glob("*.yml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        intents += [i if isinstance(i, str) else next(iter(i)) for i in raw.get("intents") or []]
        entities += [e if isinstance(e, str) else next(iter(e)) for e in raw.get("entities") or []]
    internal = {"nlu_fallback"} | {i for i in intents if i.startswith("desk_")}
    return {"intents": sorted(set(intents) - internal), "entities": sorted(set(entities))}


def group_key(text: str) -> str:
    """Near-identical messages get the same key: width, case, script, digits, punctuation and spaces ignored."""
    plain = to_simplified(unicodedata.normalize("NFKC", text)).lower()
    key = re.sub(r"[\W_\d]+", "", plain)
    return (key or plain.strip() or "-")[:255]


@dataclass
class Candidate:
    turn: UserTurn
    reason: str
    suggested_intent: Optional[str] = None


def _next_buttons(turns: Sequence[UserTurn], index: int) -> List[UserTurn]:
    """The button presses right after turn ``index`` (until the user types again)."""
    pressed = []
    for turn in turns[index + 1:]:
        if not turn.is_payload:
            break
        pressed.append(turn)
    return pressed


def candidates(conversation: Conversation) -> List[Candidate]:
    """The conversation's user messages that need a look, each with its most telling reason."""
    found: List[Candidate] = []
    escalated = conversation.escalated
    for index, turn in enumerate(conversation.turns):
        if turn.is_payload or not turn.text.strip():
            continue
        buttons = _next_buttons(conversation.turns, index)
        fell_back = turn.intent == FALLBACK_INTENT or CLARIFY_ACTION in turn.actions
        chosen = next((b.intent for b in buttons if b.intent and b.intent not in NOT_A_TOPIC
                       and b.intent != NOT_HELPFUL_INTENT and not b.intent.startswith("answer_")), None)
        if any(b.intent == NOT_HELPFUL_INTENT for b in buttons):
            found.append(Candidate(turn, "not_helpful"))
        elif fell_back and chosen:
            found.append(Candidate(turn, "clarification", chosen))
        elif fell_back:
            found.append(Candidate(turn, "fallback"))
        elif turn.confidence < LOW_CONFIDENCE:
            found.append(Candidate(turn, "low_confidence"))
        elif escalated:
            found.append(Candidate(turn, "escalated"))
    return found


def item_json(item: NluInboxItem, group_size: int = 1) -> Dict[str, Any]:
    return {
        "id": item.id, "text": item.text, "predicted_intent": item.predicted_intent,
        "confidence": None if item.confidence is None else round(item.confidence, 3),
        "reason": item.reason, "channel": item.channel, "conversation_id": item.conversation_id,
        "created_at": item.created_at.isoformat() + "Z", "language": item.language, "status": item.status,
        "suggested_intent": item.suggested_intent, "entities": json.loads(item.entities or "[]"),
        "label_intent": item.label_intent, "label_entities": json.loads(item.label_entities or "[]"),
        "discard_reason": item.discard_reason, "group_size": group_size,
        "reviewer": item.reviewer.username if item.reviewer else None,
        "reviewed_at": item.reviewed_at.isoformat() + "Z" if item.reviewed_at else None,
    }


@dataclass
class InboxFilter:
    status: str = "pending"
    reason: Optional[str] = None
    intent: Optional[str] = None
    min_confidence: Optional[float] = None
    max_confidence: Optional[float] = None
    channel: Optional[str] = None
    since: Optional[datetime] = None
    until: Optional[datetime] = None
    language: Optional[str] = None
    grouped: bool = False
    limit: int = 500

    @classmethod
    def from_args(cls, args: Dict[str, str]) -> "InboxFilter":
        """From query parameters; a bad value is a 400 with the reason."""
        status = args.get("status") or "pending"
        if status not in STATUS_FILTERS:
            raise DeskError(400, f"status must be one of {', '.join(STATUS_FILTERS)}")
        reason = args.get("reason") or None
        if reason and reason not in INBOX_REASONS:
            raise DeskError(400, f"reason must be one of {', '.join(INBOX_REASONS)}")
        language = args.get("language") or None
        if language and language not in ("zh", "en"):
            raise DeskError(400, "language must be zh or en")

        def number(name: str) -> Optional[float]:
            value = args.get(name)
            if value in (None, ""):
                return None
            try:
                parsed = float(value)
            except ValueError:
                raise DeskError(400, f"{name} must be a number between 0 and 1")
            if not 0.0 <= parsed <= 1.0:
                raise DeskError(400, f"{name} must be a number between 0 and 1")
            return parsed

        def day(name: str) -> Optional[datetime]:
            value = args.get(name)
            if not value:
                return None
            try:
                return datetime.fromisoformat(value.rstrip("Z"))
            except ValueError:
                raise DeskError(400, f"{name} must be a date (YYYY-MM-DD) or an ISO time")

        try:
            limit = min(max(int(args.get("limit") or 500), 1), 5000)
        except ValueError:
            raise DeskError(400, "limit must be a whole number")
        return cls(status=status, reason=reason, intent=args.get("intent") or None,
                   min_confidence=number("min_confidence"), max_confidence=number("max_confidence"),
                   channel=args.get("channel") or None, since=day("since"), until=day("until"),
                   language=language, grouped=(args.get("grouped") or "").lower() in ("1", "true", "yes"), limit=limit)


def _hidden_since(kept: Optional[str], current: Optional[str]) -> Optional[str]:
    """The turn's text as the tracker store now holds it, cleaned, when a secret was hidden in it since
    the inbox kept ``kept``; None otherwise.

    Only a stored text with a marker can have been hidden since: every other existing item is passed
    without redacting it again at each harvest of its conversation.
    """
    if not current or not any(marker in current for marker in MARKERS.values()):
        return None
    text, _hid = clean_text(current)
    return None if text == kept else text


class NluInbox:
    """Harvest the tracker store into inbox items; list, label and discard them."""

    def __init__(self, db: Database, log: ConversationLog) -> None:
        self.db = db
        self.log = log

    # ----- harvesting -------------------------------------------------------
    def sync(self, max_rounds: int = 20) -> int:
        """Read the conversations with new events since the last call; the number of items added or updated."""
        touched = 0
        for _ in range(max_rounds):
            with self.db.session() as s:
                state = s.get(NluHarvestState, 1) or NluHarvestState(id=1, last_event_id=0)
                last = state.last_event_id
            changed, mark = self.log.changed_since(last)
            if not changed:
                return touched
            touched += self._store(self.log.conversations(ids=changed))
            with self.db.session() as s:
                state = s.get(NluHarvestState, 1) or NluHarvestState(id=1, last_event_id=0)
                state.last_event_id, state.harvested_at = max(mark, state.last_event_id or 0), datetime.utcnow()
                s.add(state)
        return touched

    def _store(self, conversations: Iterable[Conversation]) -> int:
        touched = 0
        with self.db.session() as s:
            for conversation in conversations:
                for candidate in candidates(conversation):
                    touched += self._upsert(s, conversation, candidate)
        return touched

    @staticmethod
    def _upsert(s: Any, conversation: Conversation, candidate: Candidate) -> int:
        turn = candidate.turn
        key = f"{conversation.conversation_id}:{turn.event_id}"
        existing = s.execute(select(NluInboxItem).where(NluInboxItem.event_key == key)).scalar_one_or_none()
        if existing is not None:
            hidden = _hidden_since(existing.text, turn.text)
            if hidden is not None:
                # The tracker store hid the end of this message after it was harvested: the next
                # message continued it into a seed phrase (rasa_server/tracker_store.py).
                existing.text, existing.group_key = hidden, group_key(hidden)
                s.info[REWROTE_TEXT] = True  # the old text is in SQLite's write-ahead log: emptied after the commit
            if existing.status != "pending" or REASON_RANK[candidate.reason] >= REASON_RANK[existing.reason]:
                return int(hidden is not None)
            existing.reason, existing.suggested_intent = candidate.reason, candidate.suggested_intent
            return 1
        text, _hid = clean_text(turn.text)
        intent, confidence = turn.best_guess() if turn.intent == FALLBACK_INTENT else (turn.intent, turn.confidence)
        entities = [{k: e.get(k) for k in ("entity", "value", "start", "end")} for e in turn.entities
                    if e.get("entity") and e.get("value") is not None]
        s.add(NluInboxItem(
            event_key=key, conversation_id=conversation.conversation_id, channel=turn.channel or conversation.channel,
            language=detect_language(text) or "zh", text=text, group_key=group_key(text), predicted_intent=intent,
            confidence=confidence, entities=json.dumps(entities, ensure_ascii=False), reason=candidate.reason,
            suggested_intent=candidate.suggested_intent, status="pending", created_at=turn.at))
        return 1

    def flag_ticket_message(self, ticket_public_id: str, message_id: int, agent: Agent) -> NluInboxItem:
        """An agent sends a user's message from a ticket page to the inbox."""
        with self.db.session() as s:
            message = s.execute(select(TicketMessage).join(Ticket).where(
                Ticket.public_id == ticket_public_id, TicketMessage.id == message_id)).scalar_one_or_none()
            if message is None:
                raise DeskError(404, f"ticket {ticket_public_id} has no message {message_id}")
            if message.direction != "user":
                raise DeskError(400, "only the user's messages can go to the NLU inbox")
            key = f"ticket-message:{message.id}"
            item = s.execute(select(NluInboxItem).where(NluInboxItem.event_key == key)).scalar_one_or_none()
            if item is None:
                ticket = message.ticket
                item = NluInboxItem(event_key=key, conversation_id=ticket.conversation_id, channel=ticket.channel,
                                    language=detect_language(message.text) or ticket.language, text=message.text,
                                    group_key=group_key(message.text), predicted_intent=message.intent,
                                    entities="[]", reason="flagged", status="pending", created_at=message.created_at)
                s.add(item)
                s.flush()
            return self._load(s, item.id)

    # ----- reading ----------------------------------------------------------
    def list(self, flt: InboxFilter) -> List[Dict[str, Any]]:
        self.sync()
        query = select(NluInboxItem)
        if flt.status != "all":
            query = query.where(NluInboxItem.status == flt.status)
        for column, value in ((NluInboxItem.reason, flt.reason), (NluInboxItem.predicted_intent, flt.intent),
                              (NluInboxItem.channel, flt.channel), (NluInboxItem.language, flt.language)):
            if value:
                query = query.where(column == value)
        if flt.min_confidence is not None:
            query = query.where(NluInboxItem.confidence >= flt.min_confidence)
        if flt.max_confidence is not None:
            query = query.where(NluInboxItem.confidence <= flt.max_confidence)
        if flt.since is not None:
            query = query.where(NluInboxItem.created_at >= flt.since)
        if flt.until is not None:
            query = query.where(NluInboxItem.created_at < flt.until)
        query = query.order_by(NluInboxItem.created_at.desc(), NluInboxItem.id.desc())
        with self.db.session() as s:
            items = list(s.execute(query).scalars())
        sizes: Dict[str, int] = {}
        for item in items:
            sizes[item.group_key] = sizes.get(item.group_key, 0) + 1
        if flt.grouped:
            seen: set = set()
            items = [i for i in items if not (i.group_key in seen or seen.add(i.group_key))]
            items.sort(key=lambda i: (-sizes[i.group_key], -i.created_at.timestamp()))
        return [item_json(i, sizes[i.group_key]) for i in items[:flt.limit]]

    def get(self, item_id: int) -> Dict[str, Any]:
        with self.db.session() as s:
            return item_json(self._load(s, item_id))

    @staticmethod
    def _load(s: Any, item_id: int) -> NluInboxItem:
        item = s.get(NluInboxItem, item_id)
        if item is None:
            raise DeskError(404, f"no inbox item {item_id}")
        return item

    def counts(self) -> Dict[str, int]:
        with self.db.session() as s:
            rows = s.execute(select(NluInboxItem.status, func.count()).group_by(NluInboxItem.status)).all()
        return {status: count for status, count in rows}

    # ----- reviewing --------------------------------------------------------
    def label(self, item_id: int, body: Dict[str, Any], agent: Agent) -> List[Dict[str, Any]]:
        """Label the item and the pending items of its group; the labelled items."""
        intent = body.get("intent")
        vocabulary = domain_vocabulary()
        if not isinstance(intent, str) or intent not in vocabulary["intents"]:
            raise DeskError(400, "'intent' must be one of the domain's intents, e.g. create_wallet")
        raw_entities = body.get("entities") or []
        if not isinstance(raw_entities, list) or not all(isinstance(e, dict) for e in raw_entities):
            raise DeskError(400, "'entities' must be a list of {entity, value}")
        with self.db.session() as s:
            item = self._load(s, item_id)
            if item.status == "discarded" and not body.get("reopen", True):
                raise DeskError(409, "the item was discarded")
            entities = _checked_entities(item.text, raw_entities, vocabulary["entities"])
            group = [item] if body.get("group") is False else self._pending_group(s, item)
            now = datetime.utcnow()
            for member in group:
                member_entities = entities if member.id == item.id else _checked_entities(
                    member.text, [e for e in entities if e["value"] in member.text], vocabulary["entities"])
                member.status, member.label_intent = "labelled", intent
                member.label_entities = json.dumps(member_entities, ensure_ascii=False)
                member.discard_reason, member.reviewer_id, member.reviewed_at = None, agent.id, now
            s.flush()
            return [item_json(self._load(s, m.id)) for m in group]

    def discard(self, item_id: int, body: Dict[str, Any], agent: Agent) -> List[Dict[str, Any]]:
        reason = body.get("reason") or "noise"
        if reason not in DISCARD_REASONS:
            raise DeskError(400, f"'reason' must be one of {', '.join(DISCARD_REASONS)}")
        with self.db.session() as s:
            item = self._load(s, item_id)
            group = [item] if body.get("group") is False else self._pending_group(s, item)
            now = datetime.utcnow()
            for member in group:
                member.status, member.discard_reason = "discarded", reason
                member.label_intent, member.label_entities = None, None
                member.reviewer_id, member.reviewed_at = agent.id, now
            s.flush()
            return [item_json(self._load(s, m.id)) for m in group]

    @staticmethod
    def _pending_group(s: Any, item: NluInboxItem) -> List[NluInboxItem]:
        others = s.execute(select(NluInboxItem).where(NluInboxItem.group_key == item.group_key,
                                                      NluInboxItem.status == "pending",
                                                      NluInboxItem.id != item.id)).scalars()
        return [item, *others]

    def labelled(self) -> List[NluInboxItem]:
        with self.db.session() as s:
            return list(s.execute(select(NluInboxItem).where(NluInboxItem.status == "labelled")
                                  .order_by(NluInboxItem.id)).scalars())


def _checked_entities(text: str, entities: List[Dict[str, Any]], known: List[str]) -> List[Dict[str, Any]]:
    """Entities with their offsets in ``text``; an unknown name or a value not in the text is a 400."""
    checked = []
    for entity in entities:
        name, value = entity.get("entity"), entity.get("value")
        if name not in known:
            raise DeskError(400, f"unknown entity {name!r}; known: {', '.join(known)}")
        if not isinstance(value, str) or not value or value not in text:
            raise DeskError(400, f"entity value {value!r} does not occur in the message")
        start = entity.get("start")
        if not (isinstance(start, int) and text[start:start + len(value)] == value):
            start = text.index(value)
        checked.append({"entity": name, "value": value, "start": start, "end": start + len(value)})
    return checked
