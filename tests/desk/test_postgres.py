"""The desk's schema and rules on PostgreSQL (DESK_DATABASE_URL), the scale-out database."""

import os

import pytest
import sqlalchemy

from desk.db import Database, migrate
from desk.service import DeskService
from desk.settings import DeskSettings
from tests.desk.conftest import ALWAYS
from tests.postgres import postgres_available, start_postgres

pytestmark = pytest.mark.skipif(not postgres_available() and os.environ.get("CI") != "true",
                                reason="Debian's postgresql package is not installed")


@pytest.fixture(scope="module")
def postgres():
    server = start_postgres()
    yield server
    server.stop()


def test_migrations_and_the_one_open_ticket_rule_hold_on_postgresql(postgres):
    settings = DeskSettings(database_url=postgres.url, default_shifts=ALWAYS)
    migrate(settings.database_url)
    migrate(settings.database_url)  # idempotent
    service = DeskService(Database(settings.database_url), settings)
    service.seed_shifts()
    agent = service.create_agent("pg-agent", "a long enough password")
    first = service.escalate("pg-conv", "P3", text="need help\x00 with NUL")  # PostgreSQL rejects NUL bytes
    merged = service.escalate("pg-conv", "P1", intent="suspected_theft")
    assert merged.ticket.public_id == first.ticket.public_id and merged.ticket.priority == "P1"
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        with service.db.engine.begin() as connection:
            connection.execute(sqlalchemy.text(
                "insert into tickets (public_id, conversation_id, channel, priority, status, language, created_at,"
                " sla_deadline, escalations) values ('T-DUP333', 'pg-conv', 'rest', 'P3', 'open', 'zh', now(), now(), 1)"))
    service.reply(first.ticket.public_id, agent, "hello")
    service.close(first.ticket.public_id, agent, "resolved")
    assert service.record_csat("pg-conv", 5).csat == 5
    assert service.metrics()["csat"] == {"count": 1, "average": 5.0}
