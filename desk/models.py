"""The desk's tables. Schema changes go through Alembic (``desk/migrations``).

Tickets never hold a secret: the bot's input gate redacts mnemonics and keys
before text reaches Rasa, and the desk redacts again before it stores or shows
any text (``desk.tickets.store_text``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()

PRIORITIES = ("P1", "P2", "P3")
STATUSES = ("open", "claimed", "closed")
OUTCOMES = ("resolved", "not_resolved", "duplicate", "spam", "cancelled_by_user", "handed_back")
ROLES = ("agent", "supervisor")
PRESENCE = ("online", "busy", "offline")
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
DELIVERY_STATUSES = ("pending", "sent", "failed")


class Agent(Base):
    __tablename__ = "agents"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(128), nullable=False)
    password_hash = Column(String(128), nullable=False)
    role = Column(String(16), nullable=False, default="agent")
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    # Presence (desk.assignment): only online agents get new tickets; offline hands back unclaimed ones.
    status = Column(String(8), nullable=False, default="offline", server_default="offline")
    status_at = Column(DateTime)
    # Comma-separated languages the agent answers in (zh tickets prefer zh speakers).
    languages = Column(String(32), nullable=False, default="zh,en", server_default="zh,en")
    # Round-robin: the online agent assigned longest ago goes next.
    last_assigned_at = Column(DateTime)


class Ticket(Base):
    __tablename__ = "tickets"

    id = Column(Integer, primary_key=True)
    # What users and agents quote: short, readable, not guessable from a counter.
    public_id = Column(String(16), nullable=False, unique=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(64), nullable=False, default="unknown")
    priority = Column(String(2), nullable=False)
    status = Column(String(16), nullable=False, default="open")
    intent = Column(String(64))
    language = Column(String(2), nullable=False, default="zh")
    chain = Column(String(64))
    tx_hash = Column(String(128))
    address = Column(String(128))
    # What the bot's transaction lookup read on chain (state, block, from, to, amount, reason), as JSON.
    lookup = Column(Text)
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    claimed_at = Column(DateTime)
    first_response_at = Column(DateTime)
    closed_at = Column(DateTime)
    sla_deadline = Column(DateTime, nullable=False)
    assignee_id = Column(Integer, ForeignKey("agents.id"))
    outcome = Column(String(32))
    csat = Column(Integer)
    csat_at = Column(DateTime)
    # One line the user added to the rating ("4分，回复有点慢" → "回复有点慢"); shown on the dashboard.
    csat_comment = Column(String(300))
    # How many times the conversation escalated into this ticket (merges).
    escalations = Column(Integer, nullable=False, default=1)
    # Opened during an incident the user had already been told about (SPEC §4).
    incident_id = Column(Integer, ForeignKey("incidents.id"))
    # The user sent a seed phrase or key that was hidden before it reached the bot or the desk.
    secret_redacted = Column(Boolean, nullable=False, default=False, server_default=false())
    # Hashed client address of the escalating message (REST metadata.client), when known.
    client = Column(String(64))
    # Opened beyond the per-client or per-conversation escalation limit: queued after the others, never paged.
    flagged_flood = Column(Boolean, nullable=False, default=False, server_default=false())
    # When on-call was last paged about this ticket (None: never, or every page so far failed).
    paged_at = Column(DateTime)
    # Given to an agent (auto-assignment or transfer) but not claimed yet: assignee set, status open.
    assigned_at = Column(DateTime)
    reopened = Column(Integer, nullable=False, default=0, server_default="0")

    assignee = relationship(Agent, lazy="joined")
    incident = relationship("Incident", lazy="joined")
    messages = relationship("TicketMessage", order_by="TicketMessage.id", back_populates="ticket")

    __table_args__ = (
        # SPEC §3: one open ticket per conversation, enforced by the database too.
        Index(
            "uq_tickets_one_open_per_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text("status != 'closed'"),
            postgresql_where=text("status != 'closed'"),
        ),
        Index("ix_tickets_queue", "status", "priority", "sla_deadline"),
        Index("ix_tickets_client_created", "client", "created_at"),
    )


class TicketMessage(Base):
    """One message on a ticket: from the user, an agent, or the desk itself."""

    __tablename__ = "ticket_messages"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=False, index=True)
    direction = Column(String(8), nullable=False)  # user / agent / system / note (agents only, never delivered)
    text = Column(Text, nullable=False)
    intent = Column(String(64))
    agent_id = Column(Integer, ForeignKey("agents.id"))
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    # Agent replies only: set once the user's channel has it (Rasa acknowledged).
    delivered_at = Column(DateTime)
    delivery_attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(String(255))

    ticket = relationship(Ticket, back_populates="messages")
    agent = relationship(Agent, lazy="joined")


class RequestKey(Base):
    """An idempotency key the bot sent with an escalation or a relayed message, and what it made.

    A turn the Rasa front runs again (its worker timed out, ``rasa_server/workers.py``), or an
    escalation the gateway sends after the action server already did, carries the same key: the
    desk answers with the ticket of the first request instead of storing it twice.
    """

    __tablename__ = "request_keys"

    id = Column(Integer, primary_key=True)
    key = Column(String(64), nullable=False, unique=True)
    kind = Column(String(16), nullable=False)  # escalation / relay
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=False)
    # Escalations only: whether the first request opened the ticket (the repeat answers the same).
    created = Column(Boolean, nullable=False, default=False, server_default=false())
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)


class ApiToken(Base):
    """Bearer tokens for the JSON API; only a SHA-256 of the token is kept."""

    __tablename__ = "api_tokens"

    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False)
    token_hash = Column(String(64), nullable=False, unique=True)
    agent_id = Column(Integer, ForeignKey("agents.id"))
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    revoked_at = Column(DateTime)


class WebSession(Base):
    """A logged-in browser: the cookie holds the token, the table its hash."""

    __tablename__ = "web_sessions"

    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    language = Column(String(2), nullable=False, default="zh")
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    expires_at = Column(DateTime, nullable=False)

    agent = relationship(Agent)


class Shift(Base):
    """A recurring shift in the desk's time zone (settings: desk.timezone)."""

    __tablename__ = "shifts"

    id = Column(Integer, primary_key=True)
    weekdays = Column(String(7), nullable=False)  # digits, 0 = Monday
    start_minute = Column(Integer, nullable=False)
    end_minute = Column(Integer, nullable=False)  # 1440 = midnight
    agents = Column(Integer, nullable=False)


class Incident(Base):
    """An outage announced by a supervisor (SPEC §4); active until resolved."""

    __tablename__ = "incidents"

    id = Column(Integer, primary_key=True)
    public_id = Column(String(16), nullable=False, unique=True)
    title = Column(String(200), nullable=False)
    # The current notice, in both languages; each update replaces it.
    message_zh = Column(Text, nullable=False)
    message_en = Column(Text, nullable=False)
    # Comma-separated intent and chain names; no chains = every chain.
    intents = Column(String(1000), nullable=False, default="")
    chains = Column(String(500), nullable=False, default="")
    status = Column(String(16), nullable=False, default="investigating")
    eta = Column(DateTime)  # UTC; None = no estimate yet
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    updated_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    resolved_at = Column(DateTime)
    created_by_id = Column(Integer, ForeignKey("agents.id"))

    created_by = relationship(Agent, lazy="joined")
    updates = relationship("IncidentUpdate", order_by="IncidentUpdate.id", back_populates="incident")

    __table_args__ = (Index("ix_incidents_status", "status"),)


class IncidentUpdate(Base):
    """One entry of an incident's history: its creation, each update, its resolution."""

    __tablename__ = "incident_updates"

    id = Column(Integer, primary_key=True)
    incident_id = Column(Integer, ForeignKey("incidents.id"), nullable=False, index=True)
    status = Column(String(16), nullable=False)
    message_zh = Column(Text, nullable=False)
    message_en = Column(Text, nullable=False)
    eta = Column(DateTime)
    # Whether subscribers were sent this update (always true for the resolution).
    notified = Column(Boolean, nullable=False, default=False)
    author_id = Column(Integer, ForeignKey("agents.id"))
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)

    incident = relationship(Incident, back_populates="updates")
    author = relationship(Agent, lazy="joined")


class IncidentContact(Base):
    """A conversation that was shown the incident notice: asked, maybe subscribed, maybe deflected."""

    __tablename__ = "incident_contacts"

    id = Column(Integer, primary_key=True)
    incident_id = Column(Integer, ForeignKey("incidents.id"), nullable=False)
    conversation_id = Column(String(255), nullable=False)
    channel = Column(String(64), nullable=False, default="unknown")
    language = Column(String(2), nullable=False, default="zh")
    first_asked_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    last_asked_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    times_asked = Column(Integer, nullable=False, default=1)
    subscribed_at = Column(DateTime)
    # Requests for a person answered with the notice instead of a new ticket.
    deflections = Column(Integer, nullable=False, default=0)

    __table_args__ = (Index("uq_incident_contacts", "incident_id", "conversation_id", unique=True),)


class IncidentDelivery(Base):
    """One notice to one subscriber: pending until the bot acknowledges it, failed when attempts run out."""

    __tablename__ = "incident_deliveries"

    id = Column(Integer, primary_key=True)
    incident_id = Column(Integer, ForeignKey("incidents.id"), nullable=False)
    update_id = Column(Integer, ForeignKey("incident_updates.id"), nullable=False)
    contact_id = Column(Integer, ForeignKey("incident_contacts.id"), nullable=False)
    conversation_id = Column(String(255), nullable=False)
    status = Column(String(8), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(String(255))
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    next_attempt_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    sent_at = Column(DateTime)

    update = relationship(IncidentUpdate, lazy="joined")

    __table_args__ = (
        # Exactly one delivery of an update to a subscriber, whatever retries happen.
        Index("uq_incident_deliveries", "update_id", "contact_id", unique=True),
        Index("ix_incident_deliveries_due", "status", "next_attempt_at"),
    )


INBOX_STATUSES = ("pending", "labelled", "discarded")
INBOX_REASONS = ("not_helpful", "clarification", "fallback", "low_confidence", "escalated", "flagged")
DISCARD_REASONS = ("noise", "secret", "off_topic")


class NluInboxItem(Base):
    """A user message that needs a reviewer's look (desk/nlu_inbox.py): why, what the bot guessed, the verdict.

    The text is the redacted text of the tracker store, redacted again here; one item per user
    message (``event_key``), so harvesting the same conversation twice changes nothing.
    """

    __tablename__ = "nlu_inbox_items"

    id = Column(Integer, primary_key=True)
    event_key = Column(String(300), nullable=False, unique=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(64), nullable=False, default="unknown")
    language = Column(String(2), nullable=False, default="zh")
    text = Column(Text, nullable=False)
    # Near-identical messages share it (desk/nlu_inbox.py: group_key); the inbox shows one per group.
    group_key = Column(String(255), nullable=False, index=True)
    predicted_intent = Column(String(64))
    confidence = Column(Float)
    # Entities the bot found (JSON list), offered when relabelling.
    entities = Column(Text)
    reason = Column(String(16), nullable=False)
    # The topic button the user chose after the clarifying question.
    suggested_intent = Column(String(64))
    status = Column(String(16), nullable=False, default="pending")
    label_intent = Column(String(64))
    label_entities = Column(Text)
    discard_reason = Column(String(16))
    reviewer_id = Column(Integer, ForeignKey("agents.id"))
    reviewed_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)

    reviewer = relationship(Agent, lazy="joined")

    __table_args__ = (Index("ix_nlu_inbox_status_created", "status", "created_at"),)


class NluHarvestState(Base):
    """How far the inbox has read the tracker store's events (one row)."""

    __tablename__ = "nlu_harvest_state"

    id = Column(Integer, primary_key=True)
    last_event_id = Column(Integer, nullable=False, default=0)
    harvested_at = Column(DateTime)
class CannedReply(Base):
    """A canned reply: ``/code`` in the reply box expands to the text in the ticket's language."""

    __tablename__ = "canned_replies"

    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=False, unique=True)
    text_zh = Column(Text, nullable=False)
    text_en = Column(Text, nullable=False)
    visible_to = Column(String(16), nullable=False, default="all")  # all / supervisors
    created_by_id = Column(Integer, ForeignKey("agents.id"))
    updated_at = Column(DateTime, nullable=False, default=datetime.utcnow)


class Attachment(Base):
    """A file a user sent (a Telegram photo or document): bytes under var/, only this row points at them."""

    __tablename__ = "attachments"

    id = Column(Integer, primary_key=True)
    public_id = Column(String(32), nullable=False, unique=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=False, index=True)
    kind = Column(String(16), nullable=False)  # photo / document
    content_type = Column(String(64), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    path = Column(String(255))  # relative to the attachment directory; None once deleted
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    deleted_at = Column(DateTime)
