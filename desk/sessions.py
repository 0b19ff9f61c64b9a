"""Browser sessions for agents: an opaque cookie token, its hash and CSRF token in the database."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

from sqlalchemy import delete, select

from desk.db import Database
from desk.models import Agent, WebSession
from desk.schedule import utcnow
from desk.service import hash_token

SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class ActiveSession:
    agent: Agent
    csrf_token: str
    language: str
    token_hash: str

    def csrf_ok(self, presented: Optional[str]) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf_token.encode())


class WebSessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open(self, agent: Agent, language: str) -> str:
        """Start a session; returns the cookie token (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        with self.db.session() as s:
            s.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
            s.add(WebSession(token_hash=hash_token(token), agent_id=agent.id, csrf_token=secrets.token_urlsafe(24),
                             language=language, expires_at=utcnow() + SESSION_LIFETIME))
        return token

    def find(self, token: Optional[str]) -> Optional[ActiveSession]:
        if not token:
            return None
        with self.db.session() as s:
            row = s.scalars(select(WebSession).where(WebSession.token_hash == hash_token(token))).first()
            if row is None or row.expires_at < utcnow() or not row.agent.active:
                return None
            return ActiveSession(agent=row.agent, csrf_token=row.csrf_token, language=row.language, token_hash=row.token_hash)

    def set_language(self, session: ActiveSession, language: str) -> None:
        with self.db.session() as s:
            row = s.scalars(select(WebSession).where(WebSession.token_hash == session.token_hash)).first()
            if row is not None:
                row.language = language

    def close(self, session: ActiveSession) -> None:
        with self.db.session() as s:
            s.execute(delete(WebSession).where(WebSession.token_hash == session.token_hash))
