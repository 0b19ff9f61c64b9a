"""Incident mode (SPEC §4): announcements, who asked, who wants to hear back, and the broadcasts.

A supervisor (page, JSON API or CLI) opens an incident naming the FAQ intents
and, optionally, the chains it affects. While it is active the bot answers
matching questions with its notice and records the conversation here as a
contact; a contact may subscribe ("notify me when fixed"), and a request for a
person answered with the notice instead of a ticket counts as a deflection.
Each update may be sent to the subscribers, the resolution always is: one
delivery row per (update, subscriber), retried with backoff until the bot
acknowledges it or the attempts run out, so one failing chat never holds up
the others and nobody gets the same update twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from desk.db import Database
from desk.models import (INCIDENT_STATUSES, Agent, Incident, IncidentContact, IncidentDelivery, IncidentUpdate,
                         Ticket)
from desk.schedule import utcnow
from desk.service import ID_ALPHABET, DeskError
from safety.text import blank_control_characters
from answers.topics import FAQ_INTENTS

MAX_TITLE_CHARS = 200
MAX_MESSAGE_CHARS = 2000
MAX_DELIVERY_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=5)
LAST_RETRY = timedelta(minutes=10)
ACTIVE = tuple(s for s in INCIDENT_STATUSES if s != "resolved")


def _new_public_id() -> str:
    return "INC-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(5))


def _clean(value: Any, field: str, limit: int, required: bool = True) -> Optional[str]:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DeskError(400, f"'{field}' is required")
        return None
    if not isinstance(value, str):
        raise DeskError(400, f"'{field}' must be a string")
    text = blank_control_characters(value).strip()
    if len(text) > limit:
        raise DeskError(400, f"'{field}' is longer than {limit} characters")
    return text


def _names(value: Any, field: str) -> List[str]:
    """A list of names from a JSON list or a comma-separated string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.replace("，", ",").split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DeskError(400, f"'{field}' must be a list of names or a comma-separated string")
    names: List[str] = []
    for name in (v.strip() for v in value):
        if name and name not in names:
            names.append(name)
    return names


def parse_intents(value: Any) -> List[str]:
    intents = _names(value, "intents")
    unknown = [i for i in intents if i not in FAQ_INTENTS]
    if unknown:
        raise DeskError(400, f"incidents cover FAQ intents only ({', '.join(FAQ_INTENTS)}); not {', '.join(unknown)}"
                             " (theft and exposed secrets always get a ticket)")
    return intents


def parse_chains(value: Any) -> List[str]:
    chains = _names(value, "chains")
    if any(len(c) > 40 or "," in c for c in chains):
        raise DeskError(400, "'chains' are short chain names such as TRON, Ethereum, BSC")
    return chains


def parse_eta(value: Any, zone: str, now: Optional[datetime] = None) -> Optional[datetime]:
    """UTC from an ISO time (no offset = the desk's time zone) or a number of minutes from now."""
    if value is None or value == "":
        return None
    now = now or utcnow()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 < value <= 60 * 24 * 30:
            raise DeskError(400, "'eta' in minutes must be between 1 and 43200")
        return now + timedelta(minutes=float(value))
    if not isinstance(value, str):
        raise DeskError(400, "'eta' must be an ISO time or a number of minutes")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise DeskError(400, f"'eta' {value!r} is not an ISO time such as 2026-11-23T18:00")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class IncidentCounts:
    asked: int
    subscribed: int
    deflected: int
    linked_tickets: int
    deliveries: Dict[str, int]


class IncidentService:
    """Incidents, their contacts and their broadcasts, on the desk's database."""

    def __init__(self, db: Database, timezone_name: str = "Asia/Shanghai") -> None:
        self.db = db
        self.timezone = timezone_name

    # ----- supervisors ----------------------------------------------------
    def create(self, body: Dict[str, Any], author: Agent, now: Optional[datetime] = None) -> Incident:
        now = now or utcnow()
        title = _clean(body.get("title"), "title", MAX_TITLE_CHARS)
        message_zh = _clean(body.get("message_zh"), "message_zh", MAX_MESSAGE_CHARS)
        message_en = _clean(body.get("message_en"), "message_en", MAX_MESSAGE_CHARS)
        intents, chains = parse_intents(body.get("intents")), parse_chains(body.get("chains"))
        if not intents:
            raise DeskError(400, "'intents' must name at least one FAQ intent, e.g. app_connectivity")
        status = body.get("status") or "investigating"
        if status not in ACTIVE:
            raise DeskError(400, f"a new incident's status is one of {', '.join(ACTIVE)}")
        eta = parse_eta(body.get("eta"), self.timezone, now)
        for _attempt in range(5):
            try:
                with self.db.session() as s:
                    incident = Incident(public_id=_new_public_id(), title=title, message_zh=message_zh,
                                        message_en=message_en, intents=",".join(intents), chains=",".join(chains),
                                        status=status, eta=eta, created_at=now, updated_at=now, created_by_id=author.id)
                    s.add(incident)
                    s.flush()
                    s.add(IncidentUpdate(incident_id=incident.id, status=status, message_zh=message_zh,
                                         message_en=message_en, eta=eta, notified=False, author_id=author.id,
                                         created_at=now))
                return self.get(incident.public_id)
            except IntegrityError:
                continue  # public id collision: draw another
        raise DeskError(503, "could not allocate an incident id; retry")

    def post_update(self, public_id: str, body: Dict[str, Any], author: Agent,
                    now: Optional[datetime] = None) -> IncidentUpdate:
        """A new status / message / ETA; with ``notify`` (always on resolution) every subscriber gets it."""
        now = now or utcnow()
        status = body.get("status")
        if status is not None and status not in INCIDENT_STATUSES:
            raise DeskError(400, f"status must be one of {', '.join(INCIDENT_STATUSES)}")
        message_zh = _clean(body.get("message_zh"), "message_zh", MAX_MESSAGE_CHARS, required=False)
        message_en = _clean(body.get("message_en"), "message_en", MAX_MESSAGE_CHARS, required=False)
        if (message_zh is None) != (message_en is None):
            raise DeskError(400, "give the update in both languages: 'message_zh' and 'message_en'")
        notify = body.get("notify", False)
        if not isinstance(notify, bool):
            raise DeskError(400, "'notify' must be true or false")
        with self.db.session() as s:
            incident = self._get_for_update(s, public_id)
            if incident.status == "resolved":
                raise DeskError(409, f"incident {public_id} is resolved; open a new one")
            if status is None and message_zh is None and "eta" not in body:
                raise DeskError(400, "an update needs a new 'status', a message ('message_zh' + 'message_en') or an 'eta'")
            if "eta" in body:
                incident.eta = parse_eta(body.get("eta"), self.timezone, now)
            resolved = status == "resolved"
            if status is not None:
                incident.status = status
            if message_zh is not None:
                incident.message_zh, incident.message_en = message_zh, message_en
            incident.updated_at = now
            if resolved:
                incident.resolved_at, incident.eta = now, None
            entry = IncidentUpdate(incident_id=incident.id, status=incident.status, message_zh=incident.message_zh,
                                   message_en=incident.message_en, eta=incident.eta, notified=notify or resolved,
                                   author_id=author.id, created_at=now)
            s.add(entry)
            s.flush()
            if entry.notified:
                subscribers = s.scalars(select(IncidentContact).where(IncidentContact.incident_id == incident.id,
                                                                      IncidentContact.subscribed_at.isnot(None))).all()
                s.add_all(IncidentDelivery(incident_id=incident.id, update_id=entry.id, contact_id=c.id,
                                           conversation_id=c.conversation_id, created_at=now, next_attempt_at=now)
                          for c in subscribers)
            s.flush()
            s.refresh(entry)
            _ = entry.incident  # loaded now: callers read it after the session closes
            return entry

    def resolve(self, public_id: str, body: Dict[str, Any], author: Agent, now: Optional[datetime] = None) -> IncidentUpdate:
        return self.post_update(public_id, {**body, "status": "resolved"}, author, now)

    # ----- reading --------------------------------------------------------
    def get(self, public_id: str) -> Incident:
        with self.db.session() as s:
            incident = s.scalars(select(Incident).options(joinedload(Incident.updates).joinedload(IncidentUpdate.author))
                                 .where(Incident.public_id == public_id)).unique().first()
            if incident is None:
                raise DeskError(404, f"no incident {public_id!r}")
            return incident

    def list(self, include_resolved: bool = True, limit: int = 100) -> List[Incident]:
        with self.db.session() as s:
            query = select(Incident).order_by(Incident.id.desc()).limit(limit)
            if not include_resolved:
                query = query.where(Incident.status.in_(ACTIVE))
            return list(s.scalars(query).all())

    def active(self) -> List[Incident]:
        return self.list(include_resolved=False)

    def counts(self, incident: Incident) -> IncidentCounts:
        with self.db.session() as s:
            contacts = IncidentContact.incident_id == incident.id
            asked = s.scalar(select(func.count(IncidentContact.id)).where(contacts)) or 0
            subscribed = s.scalar(select(func.count(IncidentContact.id))
                                  .where(contacts, IncidentContact.subscribed_at.isnot(None))) or 0
            deflected = s.scalar(select(func.coalesce(func.sum(IncidentContact.deflections), 0)).where(contacts)) or 0
            linked = s.scalar(select(func.count(Ticket.id)).where(Ticket.incident_id == incident.id)) or 0
            rows = s.execute(select(IncidentDelivery.status, func.count(IncidentDelivery.id))
                             .where(IncidentDelivery.incident_id == incident.id)
                             .group_by(IncidentDelivery.status)).all()
            deliveries = {"pending": 0, "sent": 0, "failed": 0, **{status: count for status, count in rows}}
            return IncidentCounts(asked, subscribed, int(deflected), linked, deliveries)

    def recent_deliveries(self, incident: Incident, limit: int = 50) -> List[IncidentDelivery]:
        """Failed first, then the newest: what a supervisor needs to look at."""
        with self.db.session() as s:
            return list(s.scalars(select(IncidentDelivery).where(IncidentDelivery.incident_id == incident.id)
                                  .order_by((IncidentDelivery.status == "failed").desc(), IncidentDelivery.id.desc())
                                  .limit(limit)).all())

    # ----- what the bot reports -------------------------------------------
    def record_contact(self, public_id: str, conversation_id: str, channel: str = "unknown", language: str = "zh",
                       subscribe: bool = False, deflected: bool = False, now: Optional[datetime] = None) -> IncidentContact:
        """The conversation saw the notice (again); optionally it subscribes or a ticket was deflected."""
        now = now or utcnow()
        if not conversation_id or len(conversation_id) > 255:
            raise DeskError(400, "conversation_id must be 1-255 characters")
        for _attempt in range(3):
            try:
                with self.db.session() as s:
                    incident = s.scalars(select(Incident).where(Incident.public_id == public_id)).first()
                    if incident is None:
                        raise DeskError(404, f"no incident {public_id!r}")
                    if subscribe and incident.status == "resolved":
                        raise DeskError(409, f"incident {public_id} is already resolved")
                    contact = s.scalars(select(IncidentContact).where(
                        IncidentContact.incident_id == incident.id,
                        IncidentContact.conversation_id == conversation_id).with_for_update()).first()
                    if contact is None:
                        contact = IncidentContact(incident_id=incident.id, conversation_id=conversation_id,
                                                  channel=channel[:64], language="en" if language == "en" else "zh",
                                                  first_asked_at=now, last_asked_at=now, times_asked=0, deflections=0)
                        s.add(contact)
                    if not subscribe:
                        contact.times_asked += 1
                        contact.last_asked_at = now
                    elif contact.subscribed_at is None:
                        contact.subscribed_at = now
                    if channel and channel != "unknown":
                        contact.channel = channel[:64]
                    contact.language = "en" if language == "en" else "zh"
                    if deflected:
                        contact.deflections += 1
                    s.flush()
                    return contact
            except IntegrityError:
                continue  # two messages of one conversation raced to create the contact
        raise DeskError(503, "could not record the contact; retry")

    def contact(self, public_id: str, conversation_id: str) -> Optional[IncidentContact]:
        with self.db.session() as s:
            return s.scalars(select(IncidentContact).join(Incident, Incident.id == IncidentContact.incident_id)
                             .where(Incident.public_id == public_id,
                                    IncidentContact.conversation_id == conversation_id)).first()

    def incident_id(self, public_id: Optional[str]) -> Optional[int]:
        if not public_id:
            return None
        with self.db.session() as s:
            return s.scalar(select(Incident.id).where(Incident.public_id == public_id))

    # ----- broadcast deliveries -------------------------------------------
    def pending_deliveries(self, conversation_id: str) -> List[Dict[str, Any]]:
        """What the bot should tell this conversation now, oldest first, with the incident it belongs to."""
        with self.db.session() as s:
            rows = s.execute(select(IncidentDelivery, Incident).join(Incident, Incident.id == IncidentDelivery.incident_id)
                             .where(IncidentDelivery.conversation_id == conversation_id,
                                    IncidentDelivery.status == "pending")
                             .order_by(IncidentDelivery.id)).all()
            return [{"id": delivery.id, "incident": incident.public_id, "title": incident.title,
                     "status": delivery.update.status, "message_zh": delivery.update.message_zh,
                     "message_en": delivery.update.message_en,
                     "eta": delivery.update.eta.isoformat(timespec="seconds") + "Z" if delivery.update.eta else None}
                    for delivery, incident in rows]

    def mark_delivered(self, conversation_id: str, ids: Sequence[int], now: Optional[datetime] = None) -> int:
        now = now or utcnow()
        if not ids:
            return 0
        with self.db.session() as s:
            result = s.execute(update(IncidentDelivery)
                               .where(IncidentDelivery.conversation_id == conversation_id,
                                      IncidentDelivery.id.in_(list(ids)), IncidentDelivery.status == "pending")
                               .values(status="sent", sent_at=now, last_error=None)
                               .execution_options(synchronize_session=False))
            return int(result.rowcount or 0)

    def undo_delivery(self, conversation_id: str, since: datetime) -> int:
        """Deliveries acknowledged since ``since`` go back to pending: the channel failed after the ack."""
        with self.db.session() as s:
            result = s.execute(update(IncidentDelivery)
                               .where(IncidentDelivery.conversation_id == conversation_id,
                                      IncidentDelivery.status == "sent", IncidentDelivery.sent_at >= since)
                               .values(status="pending", sent_at=None)
                               .execution_options(synchronize_session=False))
            return int(result.rowcount or 0)

    def note_failure(self, conversation_id: str, error: str, now: Optional[datetime] = None) -> None:
        """One more failed attempt for the conversation's pending deliveries: back off, give up at the limit."""
        now = now or utcnow()
        with self.db.session() as s:
            for delivery in s.scalars(select(IncidentDelivery).where(IncidentDelivery.conversation_id == conversation_id,
                                                                     IncidentDelivery.status == "pending")).all():
                delivery.attempts += 1
                delivery.last_error = error[:255]
                delay = min(FIRST_RETRY * (2 ** (delivery.attempts - 1)), LAST_RETRY)
                delivery.next_attempt_at = now + delay
                if delivery.attempts >= MAX_DELIVERY_ATTEMPTS:
                    delivery.status = "failed"

    def conversations_due(self, now: Optional[datetime] = None, limit: int = 500) -> List[str]:
        now = now or utcnow()
        with self.db.session() as s:
            return list(s.scalars(select(IncidentDelivery.conversation_id)
                                  .where(IncidentDelivery.status == "pending", IncidentDelivery.next_attempt_at <= now)
                                  .group_by(IncidentDelivery.conversation_id)
                                  .order_by(func.min(IncidentDelivery.id)).limit(limit)).all())

    def retry_failed(self, public_id: str, now: Optional[datetime] = None) -> int:
        """A supervisor asks to try the failed deliveries again (e.g. after fixing the Telegram token)."""
        now = now or utcnow()
        with self.db.session() as s:
            incident = self._get_for_update(s, public_id)
            result = s.execute(update(IncidentDelivery)
                               .where(IncidentDelivery.incident_id == incident.id, IncidentDelivery.status == "failed")
                               .values(status="pending", attempts=0, next_attempt_at=now)
                               .execution_options(synchronize_session=False))
            return int(result.rowcount or 0)

    @staticmethod
    def _get_for_update(s: Session, public_id: str) -> Incident:
        incident = s.scalars(select(Incident).where(Incident.public_id == public_id).with_for_update()).first()
        if incident is None:
            raise DeskError(404, f"no incident {public_id!r}")
        return incident


def incident_intents(incident: Incident) -> List[str]:
    return [i for i in incident.intents.split(",") if i]


def incident_chains(incident: Incident) -> List[str]:
    return [c for c in incident.chains.split(",") if c]


def local(moment: Optional[datetime], zone: str) -> Optional[str]:
    """A UTC time as the desk's local time, e.g. ``11-23 18:00``."""
    if moment is None:
        return None
    return f"{moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone)):%m-%d %H:%M}"

