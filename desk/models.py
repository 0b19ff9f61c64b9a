"""The desk's tables. Schema changes go through Alembic (``desk/migrations``).

Tickets never hold a secret: the bot's input gate redacts mnemonics and keys
before text reaches Rasa, and the desk redacts again before it stores or shows
any text (``desk.tickets.store_text``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()

PRIORITIES = ("P1", "P2", "P3")
STATUSES = ("open", "claimed", "closed")
OUTCOMES = ("resolved", "not_resolved", "duplicate", "spam", "cancelled_by_user")
ROLES = ("agent", "supervisor")


class Agent(Base):
    __tablename__ = "agents"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(128), nullable=False)
    password_hash = Column(String(128), nullable=False)
    role = Column(String(16), nullable=False, default="agent")
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)


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
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    claimed_at = Column(DateTime)
    first_response_at = Column(DateTime)
    closed_at = Column(DateTime)
    sla_deadline = Column(DateTime, nullable=False)
    assignee_id = Column(Integer, ForeignKey("agents.id"))
    outcome = Column(String(32))
    csat = Column(Integer)
    csat_at = Column(DateTime)
    # How many times the conversation escalated into this ticket (merges).
    escalations = Column(Integer, nullable=False, default=1)

    assignee = relationship(Agent, lazy="joined")
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
    )


class TicketMessage(Base):
    """One message on a ticket: from the user, an agent, or the desk itself."""

    __tablename__ = "ticket_messages"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=False, index=True)
    direction = Column(String(8), nullable=False)  # user / agent / system
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
