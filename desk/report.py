"""The supervisors' bot report, per day or week: how much the bot solved alone and where it fails.

Read from the tracker store (every conversation, ``desk.conversation_log``) and the desk's
tickets (who reached a person):

- a conversation is *escalated* when a ticket was opened for it in the period, *deflected*
  (solved without a human) otherwise; it *had a fallback* when the bot did not understand one
  of its messages; it was *rated not helpful* when the user pressed 👎 after an answer;
- volume: user messages per intent, conversations per channel;
- helpfulness per answer: 👍 and 👎 after each curated answer;
- the top unanswered topics: fallback and 👎 messages clustered by character n-gram tf-idf
  (1-3 grams, so Chinese needs no segmentation and typos stay close) with agglomerative
  clustering on cosine distance; each topic with its count and example messages.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy import select

from desk.conversation_log import (FALLBACK_INTENT, FAQ_ACTION, HELPFUL_INTENT, NOT_HELPFUL_INTENT, Conversation,
                                   ConversationLog)
from desk.db import Database
from desk.models import Ticket
from desk.nlu_inbox import group_key
from desk.service import DeskError, store_text

PERIODS = ("day", "week")
# Messages closer than this (cosine distance of their n-gram profiles) are one topic.
TOPIC_DISTANCE = 0.75
TOP_TOPICS = 10
EXAMPLES_PER_TOPIC = 3


def parse_day(value: Optional[str]) -> Optional[date]:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DeskError(400, "date must be YYYY-MM-DD")


def period_window(period: str, day: Optional[date], timezone: str) -> Tuple[datetime, datetime, date]:
    """[start, end) in naive UTC for the local day, or the local week (Monday first) holding ``day``."""
    if period not in PERIODS:
        raise DeskError(400, "period must be day or week")
    zone = ZoneInfo(timezone)
    day = day or datetime.now(zone).date()
    first = day - timedelta(days=day.weekday()) if period == "week" else day
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    end = start + timedelta(days=7 if period == "week" else 1)
    utc = ZoneInfo("UTC")
    return start.astimezone(utc).replace(tzinfo=None), end.astimezone(utc).replace(tzinfo=None), first


def _rate(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def cluster_topics(texts: Sequence[str], distance: float = TOPIC_DISTANCE) -> List[Dict[str, Any]]:
    """Group ``texts`` into topics, biggest first: ``{"count", "label", "examples"}``."""
    texts = [t for t in texts if t.strip()]
    if not texts:
        return []
    keys = [group_key(t) for t in texts]
    if len(set(keys)) == 1:
        labels = [0] * len(texts)
    else:
        from sklearn.cluster import AgglomerativeClustering
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True).fit_transform(keys)
        clustering = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, affinity="cosine",
                                             linkage="average")
        labels = list(clustering.fit_predict(vectors.toarray()))
    topics: Dict[int, List[str]] = {}
    for label, text in zip(labels, texts):
        topics.setdefault(int(label), []).append(text)
    result = []
    for members in topics.values():
        distinct = [text for text, _ in Counter(members).most_common()]
        result.append({"count": len(members), "label": distinct[0], "examples": distinct[:EXAMPLES_PER_TOPIC]})
    result.sort(key=lambda t: (-t["count"], t["label"]))
    return result[:TOP_TOPICS]


@dataclass
class _Answered:
    intent: str
    helpful: int = 0
    not_helpful: int = 0


def _escalated_ids(db: Database, start: datetime, end: datetime) -> set:
    with db.session() as s:
        rows = s.execute(select(Ticket.conversation_id).where(Ticket.created_at >= start, Ticket.created_at < end))
        return {str(r[0]) for r in rows}


def build_report(log: ConversationLog, db: Database, period: str, day: Optional[date], timezone: str) -> Dict[str, Any]:
    start, end, first = period_window(period, day, timezone)
    conversations = [c for c in log.conversations(since=start, until=end) if c.turns]
    escalated_ids = _escalated_ids(db, start, end)
    counts = Counter()
    intents: Counter = Counter()
    channels: Counter = Counter()
    answers: Dict[str, _Answered] = {}
    unanswered: List[str] = []
    for conversation in conversations:
        flags = _conversation_flags(conversation, escalated_ids)
        counts.update({k for k, v in flags.items() if v})
        counts["conversations"] += 1
        channels[conversation.channel] += 1
        _read_turns(conversation, intents, answers, unanswered)
    total = counts["conversations"]
    return {
        "period": period, "start": first.isoformat(), "timezone": timezone,
        "conversations": total, "deflected": counts["deflected"], "escalated": counts["escalated"],
        "fallback": counts["fallback"], "not_helpful": counts["not_helpful"],
        "deflection_rate": _rate(counts["deflected"], total), "handoff_rate": _rate(counts["escalated"], total),
        "fallback_rate": _rate(counts["fallback"], total),
        "volume_per_intent": dict(intents.most_common()), "volume_per_channel": dict(channels.most_common()),
        "helpfulness": [{"intent": a.intent, "helpful": a.helpful, "not_helpful": a.not_helpful,
                         "helpful_rate": _rate(a.helpful, a.helpful + a.not_helpful)}
                        for a in sorted(answers.values(), key=lambda a: (-(a.helpful + a.not_helpful), a.intent))],
        "topics": cluster_topics(unanswered),
    }


def _conversation_flags(conversation: Conversation, escalated_ids: set) -> Dict[str, bool]:
    escalated = conversation.conversation_id in escalated_ids
    return {"escalated": escalated, "deflected": not escalated,
            "fallback": any(t.intent == FALLBACK_INTENT for t in conversation.turns),
            "not_helpful": any(t.intent == NOT_HELPFUL_INTENT for t in conversation.turns)}


def _read_turns(conversation: Conversation, intents: Counter, answers: Dict[str, _Answered],
                unanswered: List[str]) -> None:
    answered: Optional[str] = None  # the FAQ intent of the latest curated answer
    asked: Optional[str] = None  # the user's words that got it
    for turn in conversation.turns:
        if turn.intent in (HELPFUL_INTENT, NOT_HELPFUL_INTENT):
            if answered:
                entry = answers.setdefault(answered, _Answered(answered))
                if turn.intent == HELPFUL_INTENT:
                    entry.helpful += 1
                else:
                    entry.not_helpful += 1
                    if asked:
                        unanswered.append(asked)
            continue
        if turn.intent:
            intents[turn.intent] += 1
        if not turn.is_payload:
            asked = store_text(turn.text)
            if turn.intent == FALLBACK_INTENT:
                unanswered.append(asked)
        if FAQ_ACTION in turn.actions and turn.intent:
            answered = turn.intent


def report_csv(report: Dict[str, Any]) -> str:
    """One CSV: section, key, value, detail (summary rates, volumes, helpfulness, topics)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "value", "detail"])
    writer.writerow(["period", report["period"], report["start"], report["timezone"]])
    for key in ("conversations", "deflected", "escalated", "fallback", "not_helpful",
                "deflection_rate", "fallback_rate", "handoff_rate"):
        writer.writerow(["summary", key, "" if report[key] is None else report[key], ""])
    for intent, count in report["volume_per_intent"].items():
        writer.writerow(["intent_volume", intent, count, ""])
    for channel, count in report["volume_per_channel"].items():
        writer.writerow(["channel_volume", channel, count, ""])
    for row in report["helpfulness"]:
        writer.writerow(["helpfulness", row["intent"], row["helpful"], row["not_helpful"]])
    for topic in report["topics"]:
        writer.writerow(["unanswered_topic", topic["label"], topic["count"], " | ".join(topic["examples"])])
    return out.getvalue()
