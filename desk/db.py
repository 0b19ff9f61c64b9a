"""The desk's database: engine, sessions, and migrations to the current schema."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from safety.erasure import empty_write_ahead_log

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets its folder, foreign keys, a busy timeout and a pool.

    SQLAlchemy 1.4 opens a new connection per session for an SQLite file (NullPool), and each
    connection ran the three pragmas below: in the 500-conversation surge that was about a
    tenth of the desk's busy time (py-spy, results/profile.md). A small pool keeps them open;
    a pooled connection is used by one session at a time, whichever thread it is on.
    """
    options: dict = {"future": True, "pool_pre_ping": True}
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        options.update(poolclass=QueuePool, pool_size=2, max_overflow=8, connect_args={"check_same_thread": False})
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA journal_mode=WAL")
            # Bytes a change frees are zeroed: a seed's first part hidden on a ticket leaves nothing behind.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()
    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (idempotent)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


# Set in a session's ``info`` by a change that rewrote stored text to hide it (``Database.session``).
REWROTE_TEXT = "rewrote_text"


class Database:
    """Sessions on one engine; ``with db.session() as s:`` commits or rolls back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False, future=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._factory()
        try:
            yield session
            session.commit()
            if session.info.pop(REWROTE_TEXT, False):
                empty_write_ahead_log(self.engine)  # a reader in the way: the next hiding tries again
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()
