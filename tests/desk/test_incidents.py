"""Incidents in the desk database: validation, counting, subscriptions, broadcast deliveries."""

from datetime import timedelta

import pytest

from desk.incidents import MAX_DELIVERY_ATTEMPTS, IncidentService, parse_eta
from desk.schedule import utcnow
from desk.service import DeskError

OUTAGE = {"title": "App 无法连接", "message_zh": "部分用户无法连接，工程师正在处理。",
          "message_en": "Some users cannot connect; engineers are on it.", "intents": ["app_connectivity"]}


@pytest.fixture
def incidents(service):
    return IncidentService(service.db, "Asia/Shanghai")


@pytest.fixture
def supervisor(service):
    return service.create_agent("sue", "correct horse battery", "supervisor")


def test_create_stores_the_incident_with_its_first_history_entry(incidents, supervisor):
    incident = incidents.create({**OUTAGE, "chains": "TRON, Ethereum", "eta": "2026-11-23T18:00"}, supervisor)
    assert incident.public_id.startswith("INC-") and incident.status == "investigating"
    assert incident.chains == "TRON,Ethereum"
    assert incident.eta.hour == 10  # 18:00 in Shanghai is 10:00 UTC
    assert [u.status for u in incident.updates] == ["investigating"]
    assert incidents.active()[0].public_id == incident.public_id


@pytest.mark.parametrize("change, reason", [
    ({"intents": ["suspected_theft"]}, "theft"),
    ({"intents": []}, "at least one"),
    ({"message_en": ""}, "message_en"),
    ({"title": "x" * 201}, "longer than 200"),
    ({"status": "resolved"}, "new incident"),
    ({"eta": "next tuesday"}, "not an ISO time"),
])
def test_create_refuses_bad_incidents_with_a_reason(incidents, supervisor, change, reason):
    with pytest.raises(DeskError) as refused:
        incidents.create({**OUTAGE, **change}, supervisor)
    assert refused.value.status == 400 and reason in refused.value.reason


def test_contacts_count_distinct_conversations_and_subscriptions(incidents, supervisor):
    public_id = incidents.create(OUTAGE, supervisor).public_id
    for n in range(5):
        incidents.record_contact(public_id, f"user-{n}", "rest")
    incidents.record_contact(public_id, "user-0", "rest")  # asks again: still one user
    incidents.record_contact(public_id, "user-1", "rest", subscribe=True)
    incidents.record_contact(public_id, "user-1", "rest", subscribe=True)  # twice: one subscription
    incidents.record_contact(public_id, "user-2", "rest", deflected=True)
    counts = incidents.counts(incidents.get(public_id))
    assert (counts.asked, counts.subscribed, counts.deflected) == (5, 1, 1)
    assert incidents.contact(public_id, "user-0").times_asked == 2


def test_an_update_without_notify_sends_nothing_but_the_resolution_reaches_every_subscriber_once(incidents, supervisor):
    public_id = incidents.create(OUTAGE, supervisor).public_id
    for n in range(3):
        incidents.record_contact(public_id, f"user-{n}", "socketio", subscribe=n < 2)
    incidents.post_update(public_id, {"status": "identified", "message_zh": "已定位", "message_en": "Found it"}, supervisor)
    assert incidents.conversations_due() == []
    incidents.resolve(public_id, {"message_zh": "已恢复", "message_en": "Fixed"}, supervisor)
    assert sorted(incidents.conversations_due()) == ["user-0", "user-1"]
    notices = incidents.pending_deliveries("user-0")
    assert [(n["status"], n["message_en"]) for n in notices] == [("resolved", "Fixed")]
    assert incidents.mark_delivered("user-0", [notices[0]["id"]]) == 1
    assert incidents.mark_delivered("user-0", [notices[0]["id"]]) == 0  # a second ack changes nothing
    assert incidents.conversations_due() == ["user-1"]
    with pytest.raises(DeskError) as refused:
        incidents.record_contact(public_id, "user-9", "rest", subscribe=True)
    assert refused.value.status == 409
    with pytest.raises(DeskError):
        incidents.post_update(public_id, {"status": "monitoring"}, supervisor)


def test_a_failing_delivery_backs_off_then_fails_without_touching_the_others(incidents, supervisor):
    public_id = incidents.create(OUTAGE, supervisor).public_id
    incidents.record_contact(public_id, "blocked", "telegram", subscribe=True)
    incidents.record_contact(public_id, "fine", "telegram", subscribe=True)
    incidents.resolve(public_id, {"message_zh": "已恢复", "message_en": "Fixed"}, supervisor)
    now = utcnow()
    incidents.note_failure("blocked", "Bot API 403: bot was blocked by the user", now=now)
    assert incidents.conversations_due(now) == ["fine"]  # backing off, the other one still due
    for attempt in range(MAX_DELIVERY_ATTEMPTS):
        incidents.note_failure("blocked", "403", now=now + timedelta(hours=attempt))
    counts = incidents.counts(incidents.get(public_id))
    assert counts.deliveries == {"pending": 1, "sent": 0, "failed": 1}
    assert incidents.retry_failed(public_id) == 1
    assert "blocked" in incidents.conversations_due(utcnow() + timedelta(seconds=1))


def test_tickets_opened_during_an_incident_link_to_it(service, incidents, supervisor):
    incident = incidents.create(OUTAGE, supervisor)
    ticket = service.escalate("user-1", "P3", intent="app_connectivity", incident_id=incident.id).ticket
    assert ticket.incident.public_id == incident.public_id
    assert incidents.counts(incidents.get(incident.public_id)).linked_tickets == 1


def test_eta_accepts_minutes_and_offsets():
    now = utcnow()
    assert parse_eta(30, "Asia/Shanghai", now) == now + timedelta(minutes=30)
    assert parse_eta("2026-11-23T10:00:00Z", "Asia/Shanghai").hour == 10
    with pytest.raises(DeskError):
        parse_eta(-5, "Asia/Shanghai")
