"""The desk's rules on a real (SQLite) database migrated by Alembic."""

import os
from datetime import datetime, timedelta

import pytest
import sqlalchemy

from desk.db import Database, migrate
from desk.schedule import Schedule, ShiftWindow, estimate
from desk.service import DeskError, DeskService

NOW = datetime(2026, 11, 22, 4, 0)  # 12:00 in Asia/Shanghai


def test_a_duplicate_escalation_merges_into_the_open_ticket(service):
    first = service.escalate("conv-1", "P3", intent="request_human", now=NOW)
    again = service.escalate("conv-1", "P3", intent="request_human", now=NOW + timedelta(minutes=1))
    assert first.created and not again.created
    assert again.ticket.public_id == first.ticket.public_id
    assert len(service.queue()) == 1 and service.get(first.ticket.public_id).escalations == 2


def test_priority_rises_on_merge_and_never_lowers(service):
    p2 = service.escalate("conv-2", "P2", intent="stuck_transaction", now=NOW)
    p1 = service.escalate("conv-2", "P1", intent="suspected_theft", now=NOW + timedelta(minutes=5))
    assert p1.ticket.priority == "P1" and p1.ticket.intent == "suspected_theft"
    # SLA follows the raised priority: at most 30 minutes from creation.
    assert p1.ticket.sla_deadline == NOW + timedelta(minutes=30)
    p3 = service.escalate("conv-2", "P3", intent="request_human", now=NOW + timedelta(minutes=6))
    assert p3.ticket.priority == "P1" and p3.ticket.public_id == p2.ticket.public_id


def test_the_database_itself_refuses_two_open_tickets_for_one_conversation(service):
    service.escalate("conv-3", "P3", now=NOW)
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        with service.db.engine.begin() as connection:
            connection.execute(sqlalchemy.text(
                "insert into tickets (public_id, conversation_id, channel, priority, status, language, created_at,"
                " sla_deadline, escalations) values ('T-DUP222', 'conv-3', 'rest', 'P3', 'open', 'zh', :now, :now, 1)"),
                {"now": NOW})


def test_a_conversation_closed_longer_than_the_reopen_window_gets_a_new_ticket(service, agent):
    first = service.escalate("conv-4", "P3", now=NOW)
    service.close(first.ticket.public_id, agent, "resolved", now=NOW + timedelta(minutes=3))
    later = NOW + timedelta(minutes=4 + service.settings.reopen_minutes)
    second = service.escalate("conv-4", "P3", now=later)
    assert second.created and second.ticket.public_id != first.ticket.public_id


def test_the_queue_is_ordered_by_priority_then_sla(service):
    service.escalate("p3", "P3", now=NOW)
    service.escalate("p2-late", "P2", now=NOW + timedelta(minutes=10))
    service.escalate("p2-early", "P2", now=NOW)
    service.escalate("p1", "P1", now=NOW + timedelta(minutes=20))
    assert [t.conversation_id for t in service.queue()] == ["p1", "p2-early", "p2-late", "p3"]


def test_queue_position_and_eta_come_from_the_queue_and_agents_on_shift(service):
    for i in range(4):
        service.escalate(f"q{i}", "P2", now=NOW + timedelta(seconds=i))
    last = service.escalate("theft", "P1", now=NOW + timedelta(seconds=10))
    assert last.eta.queue_position == 1  # P1 goes first
    p3 = service.escalate("p3", "P3", now=NOW + timedelta(seconds=11))
    assert p3.eta.queue_position == 6
    assert p3.eta.agents_on_shift == 2 and p3.eta.minutes == 3 * 10  # 6 tickets / 2 agents, 10 min each


def test_with_nobody_on_shift_the_eta_is_the_next_shift(service):
    service.set_shifts([{"weekdays": [0, 1, 2, 3, 4, 5, 6], "start": "09:00", "end": "18:00", "agents": 2}])
    night = datetime(2026, 11, 22, 14, 0)  # 22:00 in Shanghai
    result = service.escalate("night", "P1", now=night)
    assert result.eta.minutes is None and result.eta.agents_on_shift == 0
    assert result.eta.next_shift_start == datetime(2026, 11, 23, 1, 0)  # 09:00 Shanghai


def test_claim_reply_close_and_their_refusals(service, agent):
    other = service.create_agent("bob", "another long password", "agent")
    ticket = service.escalate("conv-5", "P2", now=NOW).ticket
    service.claim(ticket.public_id, agent, now=NOW + timedelta(minutes=1))
    with pytest.raises(DeskError) as taken:
        service.claim(ticket.public_id, other)
    assert taken.value.status == 409 and "alice" in taken.value.reason
    reply = service.reply(ticket.public_id, agent, "请提供交易哈希", now=NOW + timedelta(minutes=2))
    assert reply.direction == "agent" and reply.delivered_at is None
    assert service.get(ticket.public_id).first_response_at == NOW + timedelta(minutes=2)
    service.close(ticket.public_id, agent, "resolved", now=NOW + timedelta(minutes=9))
    for action in (lambda: service.close(ticket.public_id, agent, "resolved"),
                   lambda: service.reply(ticket.public_id, agent, "late"),
                   lambda: service.claim(ticket.public_id, agent)):
        with pytest.raises(DeskError) as closed:
            action()
        assert closed.value.status == 409
    with pytest.raises(DeskError) as unknown:
        service.claim("T-NOPE22", agent)
    assert unknown.value.status == 404
    with pytest.raises(DeskError) as bad_outcome:
        service.close(service.escalate("conv-6", "P3").ticket.public_id, agent, "whatever")
    assert bad_outcome.value.status == 400


def test_a_relay_that_continues_a_seed_hides_the_end_of_the_message_before(service):
    """Two words alone, relayed during a handoff, are kept as said; the next message, flagged by the gate as
    their continuation into a seed phrase, makes the desk hide them on the ticket too."""
    from safety.redaction import MARKERS

    service.escalate("conv-seed", "P3", intent="request_human", text="please a human")
    service.append_user_message("conv-seed", "my words tribe obscure")
    ticket = service.append_user_message("conv-seed", MARKERS["mnemonic"], intent="secret_exposed",
                                         continues_previous=True)
    with service.db.engine.connect() as connection:
        stored = [row[0] for row in connection.execute(sqlalchemy.text(
            "select text from ticket_messages where direction = 'user' order by id"))]
    assert stored[-2:] == [f"my words {MARKERS['mnemonic']}", MARKERS["mnemonic"]]
    assert ticket.secret_redacted
    database = service.db.url[len("sqlite:///"):]
    for path in (database, f"{database}-wal"):  # nor in freed space or the write-ahead log's old frames
        assert not os.path.exists(path) or b"tribe obscure" not in open(path, "rb").read(), path
    service.append_user_message("conv-seed", "I typed tribe obscure")
    service.append_user_message("conv-seed", "thanks")  # not flagged: the message before stays
    with service.db.engine.connect() as connection:
        assert "I typed tribe obscure" in " ".join(str(r) for r in connection.execute(sqlalchemy.text(
            "select text from ticket_messages")))


def test_an_escalation_that_continues_a_seed_hides_the_end_of_the_message_before(service):
    """Merged into the open ticket, an escalation flagged as continuing a seed phrase hides the first part
    the ticket kept (a message that opened the ticket, outside a handoff)."""
    from safety.redaction import MARKERS

    service.escalate("conv-seed-esc", "P3", intent="request_human", text="ok tribe obscure")
    service.escalate("conv-seed-esc", "P1", intent="secret_exposed", text=MARKERS["mnemonic"], continues_previous=True)
    with service.db.engine.connect() as connection:
        stored = [row[0] for row in connection.execute(sqlalchemy.text(
            "select text from ticket_messages where direction = 'user' order by id"))]
    assert stored[-2:] == [f"ok {MARKERS['mnemonic']}", MARKERS["mnemonic"]]


def test_no_secret_reaches_the_ticket_store(service):
    from mnemonic import Mnemonic

    words = Mnemonic("english").generate(128)
    service.escalate("conv-7", "P1", intent="secret_exposed", text=f"my seed phrase is {words}")
    service.append_user_message("conv-7", f"助记词 {words}")
    with service.db.engine.connect() as connection:
        stored = " ".join(str(row) for row in connection.execute(sqlalchemy.text("select text from ticket_messages")))
    from tests.test_secrets_end_to_end import leaked

    # Runs of 4 words, not single words: "seed", "hidden", "secret" are BIP-39 words and stored labels.
    assert not leaked(words.split(), stored)
    assert "[" in stored  # the redaction marker took its place


def test_csat_is_recorded_once_for_the_closed_ticket(service, agent):
    ticket = service.escalate("conv-8", "P3").ticket
    with pytest.raises(DeskError):
        service.record_csat("conv-8", 5)  # still open
    service.close(ticket.public_id, agent, "resolved")
    assert service.record_csat("conv-8", 4).csat == 4
    with pytest.raises(DeskError):
        service.record_csat("conv-8", 5)  # already rated
    with pytest.raises(DeskError) as bad:
        service.record_csat("conv-9", 9)
    assert bad.value.status == 400


def test_pending_replies_are_acknowledged_per_conversation(service, agent):
    ticket = service.escalate("conv-10", "P3").ticket
    message = service.reply(ticket.public_id, agent, "hello")
    assert [m.id for m in service.pending_replies("conv-10")] == [message.id]
    assert service.mark_delivered("someone-else", [message.id]) == 0
    assert service.mark_delivered("conv-10", [message.id]) == 1
    assert service.pending_replies("conv-10") == []


def test_metrics_sla_first_response_resolution_and_csat(service, agent):
    met = service.escalate("m1", "P1", now=NOW).ticket
    service.reply(met.public_id, agent, "on it", now=NOW + timedelta(minutes=10))
    service.close(met.public_id, agent, "resolved", now=NOW + timedelta(minutes=20))
    service.record_csat("m1", 5, now=NOW + timedelta(minutes=21))
    late = service.escalate("m2", "P1", now=NOW).ticket
    service.reply(late.public_id, agent, "sorry", now=NOW + timedelta(minutes=45))
    service.close(late.public_id, agent, "not_resolved", now=NOW + timedelta(minutes=50))
    service.escalate("m3", "P2", now=NOW)  # waiting, past due at NOW + 3 h
    metrics = service.metrics(now=NOW + timedelta(hours=3))
    assert metrics["sla"]["P1"] == {"tickets": 2, "met": 1, "missed": 1, "attainment": 0.5}
    assert metrics["sla"]["P2"]["missed"] == 1
    assert metrics["first_response_minutes"] == {"count": 2, "median": 10.0, "p90": 45.0}
    assert metrics["resolution_rate"] == 0.5
    assert metrics["csat"] == {"count": 1, "average": 5.0}
    assert metrics["backlog_by_age"]["2h_24h"] == 1


def test_passwords_are_hashed_and_checked(service, agent):
    with service.db.engine.connect() as connection:
        stored = connection.execute(sqlalchemy.text("select password_hash from agents where username='alice'")).scalar()
    assert stored.startswith("sha256$$2") and "correct horse" not in stored  # bcrypt over SHA-256 (desk.passwords)
    assert service.authenticate("alice", "correct horse battery").username == "alice"
    assert service.authenticate("alice", "wrong password!!") is None
    assert service.authenticate("nobody", "correct horse battery") is None
    assert service.authenticate("api", "!") is None  # the automation identity cannot log in
    with pytest.raises(DeskError):
        service.create_agent("carol", "short")


def test_api_tokens_are_stored_hashed(service):
    token = service.create_api_token("ci")
    assert service.api_identity(token).username == "api"
    assert service.api_identity(token + "x") is None
    assert service.api_identity("automation-token").role == "supervisor"
    with service.db.engine.connect() as connection:
        assert token not in str(connection.execute(sqlalchemy.text("select * from api_tokens")).all())


def test_migrations_are_idempotent(desk_settings):
    migrate(desk_settings.database_url)
    migrate(desk_settings.database_url)
    service = DeskService(Database(desk_settings.database_url), desk_settings)
    assert service.queue() == []


def test_eta_rounds_up_per_agent():
    schedule = Schedule([ShiftWindow(frozenset(range(7)), 0, 1440, 3)], "UTC")
    assert estimate(4, 3, 10, schedule, NOW).minutes == 20
    assert estimate(1, 3, 10, schedule, NOW).minutes == 10


def test_a_repeated_escalation_or_relay_with_the_same_key_creates_one_row(service):
    # A turn run twice (the front re-runs it after a worker timeout) sends the same keys again.
    first = service.escalate("conv-key", "P2", intent="stuck_transaction", text="转账卡住了", idempotency_key="esc-1")
    again = service.escalate("conv-key", "P2", intent="stuck_transaction", text="转账卡住了", idempotency_key="esc-1")
    assert again.ticket.id == first.ticket.id and first.created and again.created
    relayed = service.append_user_message("conv-key", "哈希稍后发", idempotency_key="rel-1")
    assert service.append_user_message("conv-key", "哈希稍后发", idempotency_key="rel-1").id == relayed.id
    ticket = service.get(first.ticket.public_id)
    assert ticket.escalations == 1
    assert [m.text for m in ticket.messages if m.direction == "user"] == ["转账卡住了", "哈希稍后发"]
    assert sum(1 for m in ticket.messages if m.direction == "system") == 1
    # Another message (another key) is another escalation and another relay.
    assert not service.escalate("conv-key", "P2", text="还没到", idempotency_key="esc-2").created
    service.append_user_message("conv-key", "哈希稍后发", idempotency_key="rel-2")
    ticket = service.get(first.ticket.public_id)
    assert ticket.escalations == 2
    assert [m.text for m in ticket.messages if m.direction == "user"] == ["转账卡住了", "哈希稍后发", "还没到", "哈希稍后发"]


def test_the_database_refuses_a_second_row_with_the_same_idempotency_key(service):
    service.escalate("conv-key2", "P3", idempotency_key="esc-x")
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        with service.db.session() as s:
            s.execute(sqlalchemy.text("INSERT INTO request_keys (key, kind, ticket_id, created, created_at) "
                                      "SELECT key, kind, ticket_id, created, created_at FROM request_keys"))


def test_a_p2_ticket_keeps_what_the_transaction_lookup_read_and_shows_it(service):
    from desk.serialize import ticket_detail

    details = {"chain": "Ethereum", "tx_hash": "0x" + "ab" * 32, "lookup_state": "confirmed", "lookup_block": "12",
               "lookup_to": "0x" + "cd" * 20, "lookup_reason": ""}
    opened = service.escalate("conv-lookup", "P2", intent="deposit_not_received", details=details, now=NOW)
    shown = ticket_detail(service.get(opened.ticket.public_id))
    assert shown["details"]["chain"] == "Ethereum"
    assert shown["lookup"] == {"state": "confirmed", "block": "12", "to": "0x" + "cd" * 20}
    service.escalate("conv-lookup", "P2", details={"lookup_state": "failed", "lookup_reason": "reverted"},
                     now=NOW + timedelta(minutes=1))
    assert ticket_detail(service.get(opened.ticket.public_id))["lookup"] == {"state": "failed", "reason": "reverted"}
