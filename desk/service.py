"""What the desk does with tickets, agents and shifts; the web layer only calls this.

Every state change is checked here and refused with a :class:`DeskError`
carrying an HTTP status and a reason, so the JSON API, the web pages and the
CLI give the same answers to the same mistakes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from desk import assignment
from desk.assignment import Assignment
from desk.db import REWROTE_TEXT, Database
from desk.models import OUTCOMES, PRIORITIES, ROLES, Agent, ApiToken, RequestKey, Shift, Ticket, TicketMessage, WebSession
from desk.passwords import check_password, hash_password, spend_check_time
from desk.schedule import Eta, Schedule, ShiftWindow, estimate, format_hhmm, median, parse_hhmm, percentile, sla_deadline, utcnow
from safety.redaction import MARKERS, hide_ending, redact
from desk.settings import DeskSettings
from safety.text import blank_control_characters

# Readable ids: no 0/O, 1/I/L, so a user can read one out over the phone.
ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MAX_TEXT_CHARS = 4000
OPEN_STATUSES = ("open", "claimed")
CSAT_WINDOW = timedelta(days=7)
AUTOMATION_USERNAME = "api"


class DeskError(Exception):
    """A refused request: ``status`` is the HTTP status, ``reason`` says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def store_text(text: str) -> str:
    """Text as the desk keeps it: control characters blanked, secrets hidden, bounded."""
    return clean_text(text)[0]


def required_text(text: str, what: str) -> str:
    """An agent's reply or note as stored (``store_text``); 400 when nothing is left of it."""
    text = store_text(text)
    if not text:
        raise DeskError(400, f"the {what} is empty")
    return text


def add_agent_message(s: Any, ticket: Ticket, direction: str, text: str, agent: Agent, now: datetime) -> TicketMessage:
    """A reply or a note by ``agent`` on ``ticket``, inserted in session ``s`` (which holds the ticket's row lock)."""
    message = TicketMessage(ticket_id=ticket.id, direction=direction, text=text, agent_id=agent.id, created_at=now)
    s.add(message)
    s.flush()
    s.refresh(message)
    return message


def clean_text(text: str) -> Tuple[str, bool]:
    """``store_text`` of ``text``, and whether it hid a secret (here, or the channel's marker shows it did)."""
    result = redact(blank_control_characters(text or ""))
    hid_secret = result.found or any(marker in (text or "") for marker in MARKERS.values())
    return result.text.strip()[:MAX_TEXT_CHARS], hid_secret


def higher_priority(a: str, b: str) -> str:
    return min(a, b)  # "P1" < "P2" < "P3"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_public_id() -> str:
    return "T-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(6))


@dataclass(frozen=True)
class Escalation:
    ticket: Ticket
    created: bool
    eta: Eta
    # The online agent the ticket went to (desk.assignment), if any; reopened: an earlier closed ticket came back.
    assignment: Optional[Assignment] = None
    reopened: bool = False


@dataclass(frozen=True)
class Closure:
    ticket: Ticket
    previous_status: str


def lookup_facts(details: Optional[Dict[str, Any]]) -> Optional[str]:
    """The transaction lookup's ``lookup_*`` details (deskapi/escalations.py) as stored JSON, or None."""
    facts = {key[len("lookup_"):]: store_text(str(value))[:128] for key, value in (details or {}).items()
             if key.startswith("lookup_") and value not in (None, "")}
    return json.dumps(facts, ensure_ascii=False, sort_keys=True) if facts else None


class DeskService:
    """Tickets, agents, tokens and shifts on one database."""

    def __init__(self, db: Database, settings: DeskSettings) -> None:
        self.db = db
        self.settings = settings

    # ----- shifts ---------------------------------------------------------
    def seed_shifts(self) -> None:
        """First start: copy the shifts from settings.yml into the database."""
        with self.db.session() as s:
            if s.scalar(select(func.count(Shift.id))):
                return
            for shift in self.settings.default_shifts:
                s.add(Shift(weekdays="".join(str(d) for d in shift.weekdays), start_minute=parse_hhmm(shift.start),
                            end_minute=parse_hhmm(shift.end), agents=shift.agents))

    def shifts(self) -> List[Dict[str, object]]:
        with self.db.session() as s:
            rows = s.scalars(select(Shift).order_by(Shift.start_minute)).all()
            return [{"weekdays": [int(d) for d in r.weekdays], "start": format_hhmm(r.start_minute),
                     "end": format_hhmm(r.end_minute), "agents": r.agents} for r in rows]

    def set_shifts(self, shifts: Sequence[Dict[str, object]]) -> None:
        rows = []
        for shift in shifts:
            try:
                weekdays = sorted({int(d) for d in shift.get("weekdays", range(7))})  # type: ignore[union-attr]
                start, end = parse_hhmm(str(shift["start"])), parse_hhmm(str(shift["end"]))
                agents = int(shift.get("agents", 1))  # type: ignore[arg-type]
            except (KeyError, TypeError, ValueError) as error:
                raise DeskError(400, f"bad shift {shift!r}: {error}")
            if not weekdays or any(d < 0 or d > 6 for d in weekdays) or start >= end or agents < 0:
                raise DeskError(400, f"bad shift {shift!r}: weekdays 0-6, start before end, agents >= 0")
            rows.append(Shift(weekdays="".join(map(str, weekdays)), start_minute=start, end_minute=end, agents=agents))
        with self.db.session() as s:
            s.query(Shift).delete()
            s.add_all(rows)

    def schedule(self, session: Optional[Session] = None) -> Schedule:
        def load(s: Session) -> Schedule:
            rows = s.scalars(select(Shift)).all()
            return Schedule([ShiftWindow(frozenset(int(d) for d in r.weekdays), r.start_minute, r.end_minute, r.agents)
                             for r in rows], self.settings.timezone)
        if session is not None:
            return load(session)
        with self.db.session() as s:
            return load(s)

    # ----- escalation -----------------------------------------------------
    def escalate(self, conversation_id: str, priority: str, channel: str = "unknown", intent: Optional[str] = None,
                 language: str = "zh", details: Optional[Dict[str, str]] = None, text: Optional[str] = None,
                 now: Optional[datetime] = None, incident_id: Optional[int] = None,
                 client: Optional[str] = None, idempotency_key: Optional[str] = None,
                 continues_previous: bool = False) -> Escalation:
        """Open a ticket, or merge into the conversation's open one (priority only ever rises).

        ``continues_previous``: the message continued the user's previous one into a seed phrase; merged
        into an open ticket, the end of the last user message stored on it is hidden too.

        ``idempotency_key``: the bot's key for this request (conversation, user message, action); a
        request whose key is known changes nothing and gets the first one's ticket and ``created``.

        ``incident_id`` links the ticket to an incident the user was told about and still wanted a person for.
        ``client`` is the hashed address the message came from: a new ticket beyond the per-client or
        per-conversation limit is still opened (never lose a real victim behind a shared address) but
        flagged as a flood, queued after the others and never paged.
        """
        if priority not in PRIORITIES:
            raise DeskError(400, f"priority must be one of {', '.join(PRIORITIES)}")
        if not conversation_id or len(conversation_id) > 255:
            raise DeskError(400, "conversation_id must be 1-255 characters")
        lookup = lookup_facts(details)
        details = {k: store_text(str(v))[:128] for k, v in (details or {}).items() if k in ("chain", "tx_hash", "address") and v}
        if lookup:
            details["lookup"] = lookup
        now = now or utcnow()
        client = client[:64] if isinstance(client, str) and client else None
        stored, hid_secret = clean_text(text or "")
        for _attempt in range(5):
            try:
                with self.db.session() as s:
                    known = self._keyed(s, idempotency_key)
                    if known is not None:
                        ticket = s.get(Ticket, known.ticket_id)
                        return Escalation(ticket=ticket, created=known.created, eta=self._eta(s, ticket, now))
                    ticket = self._open_ticket(s, conversation_id)
                    reopened = ticket is None and self._reopen(s, conversation_id, priority, intent, now)
                    if reopened:
                        ticket = self._open_ticket(s, conversation_id)
                    created = ticket is None
                    if ticket is None:
                        ticket = Ticket(public_id=_new_public_id(), conversation_id=conversation_id, channel=channel[:64],
                                        priority=priority, status="open", intent=intent, language=language if language in ("zh", "en") else "zh",
                                        created_at=now, sla_deadline=sla_deadline(now, priority, self.settings.sla_minutes),
                                        escalations=1, incident_id=incident_id, client=client,
                                        flagged_flood=self._over_escalation_limit(s, conversation_id, client, now), **details)
                        s.add(ticket)
                        s.flush()
                        if ticket.flagged_flood and client:
                            self._flag_recent_from(s, client, now)
                        s.add(TicketMessage(ticket_id=ticket.id, direction="system", created_at=now,
                                            text=f"escalated: {intent or 'unknown'} ({priority})"))
                    else:
                        self._merge(ticket, priority, intent, details, now)
                        ticket.incident_id = ticket.incident_id or incident_id
                        if continues_previous:
                            self._hide_end_of_last_user_message(s, ticket)
                        s.add(TicketMessage(ticket_id=ticket.id, direction="system", created_at=now,
                                            text=f"escalated again: {intent or 'unknown'} ({priority})"))
                    if stored:
                        s.add(TicketMessage(ticket_id=ticket.id, direction="user", text=stored, intent=intent, created_at=now))
                    ticket.secret_redacted = ticket.secret_redacted or hid_secret
                    self._remember_key(s, idempotency_key, "escalation", ticket, now, created)
                    s.flush()
                    assigned = assignment.auto_assign(s, ticket, self.settings.assignment_cap, now)
                    s.flush()
                    eta = self._eta(s, ticket, now)
                    s.refresh(ticket)
                    return Escalation(ticket=ticket, created=created, eta=eta, assignment=assigned, reopened=reopened)
            except IntegrityError:
                continue  # a concurrent escalation of the same conversation (or key), or an id collision: retry
        raise DeskError(503, "could not store the ticket, please retry")

    def _reopen(self, s: Session, conversation_id: str, priority: str, intent: Optional[str], now: datetime) -> bool:
        """Re-open the conversation's ticket an agent closed within ``reopen_minutes`` (not as spam or a duplicate).

        The user wrote again soon after the close: same ticket, its history kept, a fresh SLA, and
        back through assignment, instead of a new ticket that starts over.
        """
        since = now - timedelta(minutes=self.settings.reopen_minutes)
        ticket = s.scalars(select(Ticket).where(
            Ticket.conversation_id == conversation_id, Ticket.status == "closed", Ticket.closed_at >= since,
            Ticket.outcome.notin_(("spam", "duplicate", "cancelled_by_user"))).order_by(Ticket.closed_at.desc())).first()
        if ticket is None or self.settings.reopen_minutes <= 0:
            return False
        ticket.status, ticket.closed_at, ticket.outcome = "open", None, None
        ticket.assignee_id = ticket.assigned_at = ticket.claimed_at = None
        ticket.priority, ticket.intent = priority, intent or ticket.intent
        ticket.sla_deadline = sla_deadline(now, priority, self.settings.sla_minutes)
        ticket.reopened = (ticket.reopened or 0) + 1
        s.add(TicketMessage(ticket_id=ticket.id, direction="system", created_at=now,
                            text=f"reopened: {intent or 'unknown'} ({priority})"))
        s.flush()
        return True

    @staticmethod
    def _keyed(s: Session, key: Optional[str]) -> Optional[RequestKey]:
        """What an earlier request with this idempotency key made, if any."""
        return s.scalars(select(RequestKey).where(RequestKey.key == key)).first() if key else None

    @staticmethod
    def _remember_key(s: Session, key: Optional[str], kind: str, ticket: Ticket, now: datetime, created: bool = False) -> None:
        """Record the request's key (unique: a concurrent twin fails the flush with an IntegrityError)."""
        if key:
            s.add(RequestKey(key=key, kind=kind, ticket_id=ticket.id, created=created, created_at=now))

    def _escalation_window(self, now: datetime) -> datetime:
        return now - timedelta(minutes=self.settings.escalation_window_minutes)

    def _over_escalation_limit(self, s: Session, conversation_id: str, client: Optional[str], now: datetime) -> bool:
        """Whether a new ticket now would exceed the per-conversation or per-client limit of the window."""
        since = self._escalation_window(now)
        recent = select(func.count(Ticket.id)).where(Ticket.created_at > since, Ticket.created_at <= now)
        if s.scalar(recent.where(Ticket.conversation_id == conversation_id)) >= self.settings.escalations_per_conversation:
            return True
        return bool(client) and s.scalar(recent.where(Ticket.client == client)) >= self.settings.escalations_per_client

    def _flag_recent_from(self, s: Session, client: str, now: datetime) -> None:
        """A client over its limit is flooding: its other unclaimed tickets of the window queue last too."""
        s.execute(update(Ticket).where(Ticket.client == client, Ticket.status == "open",
                                       Ticket.created_at > self._escalation_window(now))
                  .values(flagged_flood=True).execution_options(synchronize_session=False))

    def _merge(self, ticket: Ticket, priority: str, intent: Optional[str], details: Dict[str, str], now: datetime) -> None:
        ticket.escalations += 1
        raised = higher_priority(ticket.priority, priority)
        if raised != ticket.priority:
            ticket.priority = raised
            ticket.intent = intent or ticket.intent
            ticket.sla_deadline = min(ticket.sla_deadline, sla_deadline(ticket.created_at, raised, self.settings.sla_minutes),
                                      sla_deadline(now, raised, self.settings.sla_minutes))
        for key, value in details.items():
            if not getattr(ticket, key) or key == "lookup":  # a newer lookup replaces the older one
                setattr(ticket, key, value)

    @staticmethod
    def _open_ticket(s: Session, conversation_id: str) -> Optional[Ticket]:
        return s.scalars(select(Ticket).where(Ticket.conversation_id == conversation_id,
                                              Ticket.status.in_(OPEN_STATUSES))).first()

    def queue_position(self, s: Session, ticket: Ticket) -> int:
        """1 + unclaimed tickets an agent would take before this one; 0 once claimed."""
        if ticket.status != "open":
            return 0
        flood = bool(ticket.flagged_flood)
        same = (Ticket.priority == ticket.priority) & Ticket.flagged_flood.is_(flood)
        before = ((Ticket.priority < ticket.priority) | (same & (Ticket.sla_deadline < ticket.sla_deadline))
                  | (same & (Ticket.sla_deadline == ticket.sla_deadline) & (Ticket.id < ticket.id)))
        if flood:  # flood-flagged tickets wait behind every unflagged one of their priority
            before = before | ((Ticket.priority == ticket.priority) & Ticket.flagged_flood.is_(False))
        ahead = s.scalar(select(func.count(Ticket.id)).where(Ticket.status == "open", Ticket.id != ticket.id, before))
        return int(ahead or 0) + 1

    def minutes_per_ticket(self, s: Session) -> float:
        """Measured median minutes from creation to first response over the last 50; the prior without history."""
        rows = s.execute(select(Ticket.created_at, Ticket.first_response_at).where(Ticket.first_response_at.isnot(None))
                         .order_by(Ticket.first_response_at.desc()).limit(50)).all()
        waits = [(r.first_response_at - r.created_at).total_seconds() / 60 for r in rows]
        measured = median(waits)
        return float(self.settings.minutes_per_ticket) if measured is None or len(waits) < 5 else max(1.0, measured)

    def agents_available(self, s: Session, now: datetime, schedule: Optional[Schedule] = None) -> int:
        """Agents working the queue now: those online in the desk; the shift plan while nobody uses presence."""
        online = assignment.count_online(s)
        return online if online else (schedule or self.schedule(s)).agents_on_shift(now)

    def _eta(self, s: Session, ticket: Ticket, now: datetime) -> Eta:
        schedule = self.schedule(s)
        position = self.queue_position(s, ticket)
        return estimate(max(position, 1), self.agents_available(s, now, schedule), self.minutes_per_ticket(s), schedule, now)

    # ----- what the bot asks ---------------------------------------------
    def conversation_status(self, conversation_id: str, now: Optional[datetime] = None) -> Optional[Tuple[Ticket, Eta]]:
        """The open ticket of a conversation with its ETA, or None."""
        now = now or utcnow()
        with self.db.session() as s:
            ticket = self._open_ticket(s, conversation_id)
            if ticket is None:
                return None
            s.refresh(ticket)
            return ticket, self._eta(s, ticket, now)

    def append_user_message(self, conversation_id: str, text: str, intent: Optional[str] = None,
                            priority: Optional[str] = None, now: Optional[datetime] = None,
                            idempotency_key: Optional[str] = None, continues_previous: bool = False) -> Ticket:
        """Add what the user said during handoff to their open ticket (404 if none); once per ``idempotency_key``.

        ``continues_previous``: the message continued the user's previous one into a seed phrase, so
        the end of the previous user message stored on the ticket is hidden too (``hide_ending``).
        """
        now = now or utcnow()
        for _attempt in range(2):
            try:
                with self.db.session() as s:
                    known = self._keyed(s, idempotency_key)
                    if known is not None:
                        return s.get(Ticket, known.ticket_id)
                    ticket = self._open_ticket(s, conversation_id)
                    if ticket is None:
                        raise DeskError(404, f"conversation {conversation_id!r} has no open ticket")
                    if priority in PRIORITIES:
                        self._merge(ticket, priority, intent, {}, now)
                        ticket.escalations -= 1  # a message, not an escalation
                    stored, hid_secret = clean_text(text)
                    ticket.secret_redacted = ticket.secret_redacted or hid_secret
                    if continues_previous:
                        self._hide_end_of_last_user_message(s, ticket)
                    s.add(TicketMessage(ticket_id=ticket.id, direction="user", text=stored or "(empty)", intent=intent, created_at=now))
                    self._remember_key(s, idempotency_key, "relay", ticket, now)
                    s.flush()
                    s.refresh(ticket)
                    return ticket
            except IntegrityError:
                continue  # the same relay, stored concurrently: the next attempt finds its key
        raise DeskError(503, "could not store the message, please retry")

    @staticmethod
    def _hide_end_of_last_user_message(s: Any, ticket: Ticket) -> None:
        """The first part of a seed phrase the next message completed: hidden where the ticket keeps it."""
        last = s.execute(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id,
                                                     TicketMessage.direction == "user")
                         .order_by(TicketMessage.id.desc()).limit(1)).scalar_one_or_none()
        if last is not None and last.text:
            hidden = hide_ending(last.text)
            if hidden.found:
                last.text = hidden.text
                ticket.secret_redacted = True
                s.info[REWROTE_TEXT] = True  # the old text is in SQLite's write-ahead log: emptied after the commit

    def cancel_by_user(self, conversation_id: str, now: Optional[datetime] = None) -> Ticket:
        now = now or utcnow()
        with self.db.session() as s:
            ticket = self._open_ticket(s, conversation_id)
            if ticket is None:
                raise DeskError(404, f"conversation {conversation_id!r} has no open ticket")
            ticket.status, ticket.closed_at, ticket.outcome = "closed", now, "cancelled_by_user"
            s.add(TicketMessage(ticket_id=ticket.id, direction="system", text="cancelled by the user", created_at=now))
            s.flush()
            s.refresh(ticket)
            return ticket

    def record_csat(self, conversation_id: str, rating: int, now: Optional[datetime] = None,
                    comment: Optional[str] = None) -> Ticket:
        """Rate the conversation's most recently closed, unrated ticket (1-5), with the user's optional line."""
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            raise DeskError(400, "rating must be an integer from 1 to 5")
        now = now or utcnow()
        with self.db.session() as s:
            ticket = s.scalars(select(Ticket).where(
                Ticket.conversation_id == conversation_id, Ticket.status == "closed", Ticket.csat.is_(None),
                Ticket.outcome != "cancelled_by_user", Ticket.closed_at >= now - CSAT_WINDOW,
            ).order_by(Ticket.closed_at.desc())).first()
            if ticket is None:
                raise DeskError(404, f"conversation {conversation_id!r} has no closed ticket waiting for a rating")
            ticket.csat, ticket.csat_at = rating, now
            ticket.csat_comment = store_text(comment)[:300] or None if isinstance(comment, str) else None
            s.flush()
            s.refresh(ticket)
            return ticket

    def pending_replies(self, conversation_id: str) -> List[TicketMessage]:
        """Agent replies not yet delivered to the user, oldest first."""
        with self.db.session() as s:
            return list(s.scalars(select(TicketMessage).join(Ticket).where(
                Ticket.conversation_id == conversation_id, TicketMessage.direction == "agent",
                TicketMessage.delivered_at.is_(None)).order_by(TicketMessage.id)).all())

    def mark_delivered(self, conversation_id: str, message_ids: Sequence[int], now: Optional[datetime] = None) -> int:
        now = now or utcnow()
        with self.db.session() as s:
            rows = s.scalars(select(TicketMessage).join(Ticket).where(
                Ticket.conversation_id == conversation_id, TicketMessage.id.in_(list(message_ids)),
                TicketMessage.delivered_at.is_(None))).all()
            for row in rows:
                row.delivered_at = now
            return len(rows)

    def note_delivery_failure(self, conversation_id: str, error: str) -> None:
        with self.db.session() as s:
            for row in s.scalars(select(TicketMessage).join(Ticket).where(
                    Ticket.conversation_id == conversation_id, TicketMessage.direction == "agent",
                    TicketMessage.delivered_at.is_(None))).all():
                row.delivery_attempts += 1
                row.last_error = error[:255]

    def retry_delivery(self, public_id: str, message_id: int) -> TicketMessage:
        """An agent asks to deliver an undelivered reply again: its conversation's attempts start over.

        404 unless ``message_id`` is an agent reply of this ticket, 409 once it was delivered. Every
        undelivered reply of the conversation starts over, since they go out oldest first.
        """
        with self.db.session() as s:
            message = s.scalars(select(TicketMessage).join(Ticket).where(
                Ticket.public_id == public_id, TicketMessage.id == message_id, TicketMessage.direction == "agent")).first()
            if message is None:
                raise DeskError(404, f"ticket {public_id} has no agent reply {message_id}")
            if message.delivered_at is not None:
                raise DeskError(409, f"reply {message_id} was delivered already")
            conversation_id = message.ticket.conversation_id
            s.execute(update(TicketMessage).where(
                TicketMessage.direction == "agent", TicketMessage.delivered_at.is_(None),
                TicketMessage.ticket_id.in_(select(Ticket.id).where(Ticket.conversation_id == conversation_id)))
                .values(delivery_attempts=0).execution_options(synchronize_session=False))
            s.refresh(message)
            s.refresh(message.ticket)
            return message

    def conversations_awaiting_delivery(self) -> List[str]:
        with self.db.session() as s:
            return list(s.scalars(select(Ticket.conversation_id).join(TicketMessage).where(
                TicketMessage.direction == "agent", TicketMessage.delivered_at.is_(None)).distinct()).all())

    # ----- what agents do -------------------------------------------------
    def queue(self, status: Optional[str] = "open") -> List[Ticket]:
        """Not-closed tickets by priority, flood-flagged last within it, then SLA deadline (``status``: open, claimed, closed, all)."""
        with self.db.session() as s:
            query = select(Ticket).options(joinedload(Ticket.assignee))
            if status == "open":
                query = query.where(Ticket.status.in_(OPEN_STATUSES))
            elif status in ("claimed", "closed"):
                query = query.where(Ticket.status == status)
            elif status not in (None, "all"):
                raise DeskError(400, "status must be open, claimed, closed or all")
            if status == "closed":
                query = query.order_by(Ticket.closed_at.desc()).limit(200)
            else:
                query = query.order_by(Ticket.priority, Ticket.flagged_flood, Ticket.sla_deadline, Ticket.id)
            return list(s.scalars(query).unique().all())

    def get(self, public_id: str) -> Ticket:
        with self.db.session() as s:
            ticket = s.scalars(select(Ticket).options(joinedload(Ticket.assignee), joinedload(Ticket.messages).joinedload(TicketMessage.agent))
                               .where(Ticket.public_id == public_id)).unique().first()
            if ticket is None:
                raise DeskError(404, f"no ticket {public_id!r}")
            return ticket

    def mark_secret_redacted(self, public_id: str) -> None:
        """Keep what a transcript showed: the user sent a secret that the channel hid."""
        with self.db.session() as s:
            s.execute(update(Ticket).where(Ticket.public_id == public_id).values(secret_redacted=True)
                      .execution_options(synchronize_session=False))

    def tickets_to_page(self, now: datetime, repage_after: timedelta) -> List[Ticket]:
        """Not-closed, unflagged P1 tickets on-call has not been told about, and unclaimed ones not paged since ``repage_after``."""
        with self.db.session() as s:
            return list(s.scalars(select(Ticket).where(
                Ticket.priority == "P1", Ticket.status.in_(OPEN_STATUSES), Ticket.flagged_flood.is_(False),
                Ticket.paged_at.is_(None) | ((Ticket.status == "open") & (Ticket.paged_at <= now - repage_after)))
                .order_by(Ticket.sla_deadline, Ticket.id)).unique().all())

    def mark_paged(self, ticket_ids: Sequence[int], now: datetime) -> None:
        with self.db.session() as s:
            s.execute(update(Ticket).where(Ticket.id.in_(list(ticket_ids))).values(paged_at=now)
                      .execution_options(synchronize_session=False))

    def claim(self, public_id: str, agent: Agent, now: Optional[datetime] = None) -> Ticket:
        now = now or utcnow()
        with self.db.session() as s:
            ticket = self._get_for_update(s, public_id)
            if ticket.status == "closed":
                raise DeskError(409, f"ticket {public_id} is closed")
            if ticket.status == "claimed" and ticket.assignee_id != agent.id:
                raise DeskError(409, f"ticket {public_id} is already claimed by {ticket.assignee.username}")
            if ticket.status == "open":
                ticket.status, ticket.assignee_id, ticket.claimed_at = "claimed", agent.id, now
                s.add(TicketMessage(ticket_id=ticket.id, direction="system", text=f"claimed by {agent.username}", created_at=now))
            s.flush()
            s.refresh(ticket)
            return ticket

    def _held_ticket(self, s: Session, public_id: str, agent: Agent, closed_reason: str, claimed_status: int,
                     claimed_hint: str) -> Ticket:
        """The ticket, locked, if it is open to ``agent``: not closed, and not claimed by another agent
        (supervisors may act on any)."""
        ticket = self._get_for_update(s, public_id)
        if ticket.status == "closed":
            raise DeskError(409, f"ticket {public_id} {closed_reason}")
        if ticket.status == "claimed" and ticket.assignee_id != agent.id and agent.role != "supervisor":
            raise DeskError(claimed_status, f"ticket {public_id} is claimed by {ticket.assignee.username}{claimed_hint}")
        return ticket

    def reply(self, public_id: str, agent: Agent, text: str, now: Optional[datetime] = None) -> TicketMessage:
        """Store an agent's reply for delivery; claims an unclaimed ticket for them."""
        now = now or utcnow()
        text = required_text(text, "reply")
        with self.db.session() as s:
            ticket = self._held_ticket(s, public_id, agent, "is closed: the user can no longer receive replies on it",
                                       409, "")
            if ticket.status == "open":
                ticket.status, ticket.assignee_id, ticket.claimed_at = "claimed", agent.id, now
            if ticket.first_response_at is None:
                ticket.first_response_at = now
            return add_agent_message(s, ticket, "agent", text, agent, now)

    def close(self, public_id: str, agent: Agent, outcome: str, now: Optional[datetime] = None) -> Ticket:
        now = now or utcnow()
        if outcome not in OUTCOMES or outcome == "cancelled_by_user":
            raise DeskError(400, "outcome must be resolved, not_resolved, duplicate or spam")
        with self.db.session() as s:
            ticket = self._held_ticket(s, public_id, agent, "is already closed", 403,
                                       ": only they or a supervisor can close it")
            ticket.status, ticket.closed_at, ticket.outcome = "closed", now, outcome
            if ticket.assignee_id is None:
                ticket.assignee_id = agent.id
            s.add(TicketMessage(ticket_id=ticket.id, direction="system", text=f"closed by {agent.username}: {outcome}", created_at=now))
            s.flush()
            s.refresh(ticket)
            return ticket

    @staticmethod
    def _get_for_update(s: Session, public_id: str) -> Ticket:
        ticket = s.scalars(select(Ticket).options(joinedload(Ticket.assignee)).where(Ticket.public_id == public_id)
                           .with_for_update(of=Ticket)).first()
        if ticket is None:
            raise DeskError(404, f"no ticket {public_id!r}")
        return ticket

    # ----- metrics --------------------------------------------------------
    def ping(self) -> None:
        """Raise if the database cannot answer (health checks)."""
        with self.db.session() as s:
            s.execute(select(1))

    def metrics(self, now: Optional[datetime] = None) -> Dict[str, object]:
        """The supervisor's numbers (SPEC §2 targets)."""
        now = now or utcnow()
        with self.db.session() as s:
            tickets = s.scalars(select(Ticket)).all()
            sla: Dict[str, Dict[str, object]] = {}
            for priority in PRIORITIES:
                mine = [t for t in tickets if t.priority == priority]
                met = sum(1 for t in mine if t.first_response_at and t.first_response_at <= t.sla_deadline)
                missed = sum(1 for t in mine if (t.first_response_at and t.first_response_at > t.sla_deadline)
                             or (not t.first_response_at and t.status != "closed" and now > t.sla_deadline))
                sla[priority] = {"tickets": len(mine), "met": met, "missed": missed,
                                 "attainment": round(met / (met + missed), 3) if met + missed else None}
            first = [(t.first_response_at - t.created_at).total_seconds() / 60 for t in tickets if t.first_response_at]
            closed = [t for t in tickets if t.status == "closed" and t.outcome in ("resolved", "not_resolved")]
            rated = [t.csat for t in tickets if t.csat]
            backlog = {"under_30m": 0, "30m_2h": 0, "2h_24h": 0, "over_24h": 0}
            for t in tickets:
                if t.status == "closed":
                    continue
                age = (now - t.created_at).total_seconds() / 60
                bucket = "under_30m" if age < 30 else "30m_2h" if age < 120 else "2h_24h" if age < 1440 else "over_24h"
                backlog[bucket] += 1
            schedule = self.schedule(s)
            return {
                "generated_at": now.isoformat() + "Z",
                "sla": sla,
                "first_response_minutes": {"count": len(first), "median": _round(median(first)), "p90": _round(percentile(first, 90))},
                "resolution_rate": round(sum(1 for t in closed if t.outcome == "resolved") / len(closed), 3) if closed else None,
                "resolution_target": 0.8,
                "csat": {"count": len(rated), "average": round(sum(rated) / len(rated), 2) if rated else None},
                # The latest lines users added to their rating, newest first.
                "csat_comments": [{"ticket": t.public_id, "rating": t.csat, "comment": t.csat_comment}
                                  for t in sorted((t for t in tickets if t.csat_comment), key=lambda t: t.csat_at,
                                                  reverse=True)[:10]],
                "backlog_by_age": backlog,
                "open_tickets": sum(1 for t in tickets if t.status != "closed"),
                "agents_on_shift": schedule.agents_on_shift(now),
            }

    # ----- agents and tokens ----------------------------------------------
    def create_agent(self, username: str, password: str, role: str = "agent", display_name: Optional[str] = None) -> Agent:
        if role not in ROLES:
            raise DeskError(400, f"role must be one of {', '.join(ROLES)}")
        if len(password) < 10:
            raise DeskError(400, "password must be at least 10 characters")
        if username == AUTOMATION_USERNAME:
            raise DeskError(400, f"{AUTOMATION_USERNAME!r} is reserved for API tokens")
        if not username or len(username) > 64:
            raise DeskError(400, "username must be 1-64 characters")
        hashed = hash_password(password)
        try:
            with self.db.session() as s:
                agent = Agent(username=username, display_name=display_name or username, password_hash=hashed, role=role, active=True)
                s.add(agent)
                s.flush()
                return agent
        except IntegrityError:
            raise DeskError(409, f"agent {username!r} exists")

    def authenticate(self, username: str, password: str) -> Optional[Agent]:
        """The active agent these credentials name, or None; the same bcrypt cost whether or not the name exists."""
        with self.db.session() as s:
            agent = s.scalars(select(Agent).where(Agent.username == username, Agent.active.is_(True))).first()
        if agent is None:
            spend_check_time(password)
            return None
        return agent if check_password(password, agent.password_hash) else None

    def deactivate_agent(self, username: str, now: Optional[datetime] = None) -> Agent:
        """The agent can no longer log in; their sessions end and their tokens are revoked."""
        if username == AUTOMATION_USERNAME:
            raise DeskError(400, f"{AUTOMATION_USERNAME!r} is the automation identity: revoke its tokens instead")
        now = now or utcnow()
        with self.db.session() as s:
            agent = s.scalars(select(Agent).where(Agent.username == username)).first()
            if agent is None:
                raise DeskError(404, f"no agent {username!r}")
            agent.active = False
            s.execute(delete(WebSession).where(WebSession.agent_id == agent.id))
            s.execute(update(ApiToken).where(ApiToken.agent_id == agent.id, ApiToken.revoked_at.is_(None))
                      .values(revoked_at=now))
            return agent

    def revoke_token(self, name_or_id: str, now: Optional[datetime] = None) -> int:
        """Revoke the token with this id, or every live token with this name; returns how many."""
        now = now or utcnow()
        with self.db.session() as s:
            match = ApiToken.name == name_or_id
            if name_or_id.isdigit() and len(name_or_id) < 10:
                match = match | (ApiToken.id == int(name_or_id))
            rows = s.scalars(select(ApiToken).where(match, ApiToken.revoked_at.is_(None))).all()
            if not rows:
                raise DeskError(404, f"no live token named or numbered {name_or_id!r}")
            for row in rows:
                row.revoked_at = now
            return len(rows)

    def api_tokens(self) -> List[Dict[str, object]]:
        """Every token without its hash: id, name, agent, created, revoked."""
        with self.db.session() as s:
            rows = s.execute(select(ApiToken, Agent.username).outerjoin(Agent, Agent.id == ApiToken.agent_id)
                             .order_by(ApiToken.id)).all()
            return [{"id": t.id, "name": t.name, "agent": username, "created_at": t.created_at.isoformat() + "Z",
                     "revoked_at": t.revoked_at.isoformat() + "Z" if t.revoked_at else None} for t, username in rows]

    def agent_named(self, username: str) -> Agent:
        with self.db.session() as s:
            agent = s.scalars(select(Agent).where(Agent.username == username, Agent.active.is_(True))).first()
        if agent is None:
            raise DeskError(404, f"no agent {username!r}")
        return agent

    def agent(self, agent_id: int) -> Optional[Agent]:
        with self.db.session() as s:
            return s.get(Agent, agent_id)

    def create_api_token(self, name: str, agent_username: Optional[str] = None) -> str:
        """A new bearer token; only its hash is stored, so it is shown once."""
        token = "desk_" + secrets.token_urlsafe(32)
        with self.db.session() as s:
            agent_id = None
            if agent_username:
                agent = s.scalars(select(Agent).where(Agent.username == agent_username)).first()
                if agent is None:
                    raise DeskError(404, f"no agent {agent_username!r}")
                agent_id = agent.id
            s.add(ApiToken(name=name, token_hash=hash_token(token), agent_id=agent_id))
        return token

    def is_bot_token(self, token: Optional[str]) -> bool:
        """Whether ``token`` is DESK_API_TOKEN, the bot's: it reaches only the bot's own endpoints."""
        return bool(token and self.settings.api_token
                    and hmac.compare_digest(token.encode(), self.settings.api_token.encode()))

    def api_identity(self, token: Optional[str]) -> Optional[Agent]:
        """The agent a bearer token acts as (active agents only); an automation identity for DESK_API_TOKEN."""
        if not token:
            return None
        if self.is_bot_token(token):
            return self.automation_agent()
        with self.db.session() as s:
            row = s.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))).first()
            if row is None:
                return None
            if row.agent_id is None:
                return self.automation_agent()
            agent = s.get(Agent, row.agent_id)
            return agent if agent is not None and agent.active else None

    def automation_agent(self) -> Agent:
        """The identity of scripts (DESK_API_TOKEN, unbound tokens): a supervisor that cannot log in."""
        with self.db.session() as s:
            agent = s.scalars(select(Agent).where(Agent.username == AUTOMATION_USERNAME)).first()
            if agent is None:
                # "!" is not a bcrypt hash, so no password ever matches it.
                agent = Agent(username=AUTOMATION_USERNAME, display_name="API", password_hash="!", role="supervisor", active=True)
                s.add(agent)
                s.flush()
            return agent


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 2)
