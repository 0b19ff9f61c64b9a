import asyncio

import pytest

from deskapi.client import DeskUnavailable
from actions.escalation import (
    ActionEscalate,
    ActionTicketStatus,
    EscalationRequest,
    Priority,
    build_request,
    decide_priority,
)


@pytest.mark.parametrize(
    "intents, expected",
    [
        (["suspected_theft", "request_human"], Priority.P1),
        (["stuck_transaction", "suspected_theft"], Priority.P1),
        (["stuck_transaction", "request_human"], Priority.P2),
        (["deposit_not_received"], Priority.P2),
        (["cross_chain", "thanks", "request_human"], Priority.P2),
        (["failed_transaction"], Priority.P2),
        (["create_wallet", "request_human"], Priority.P3),
        (["request_human"], Priority.P3),
        ([], Priority.P3),
    ],
)
def test_priority_follows_the_spec(intents, expected):
    assert decide_priority(intents) is expected


def test_request_carries_the_reason_and_transfer_details(make_tracker):
    tracker = make_tracker(
        ("usdt一直没到账", "deposit_not_received"),
        ("转人工", "request_human"),
        slots={"chain": "tron", "tx_hash": "ab" * 32, "address": None},
        sender_id="conv-7",
    )
    request = build_request(tracker)
    assert request == EscalationRequest(
        conversation_id="conv-7",
        priority=Priority.P2,
        reason="deposit_not_received",
        details={"chain": "tron", "tx_hash": "ab" * 32},
        text="转人工",
    )


def test_request_carries_the_gates_seed_continuation_flag(make_tracker):
    from safety.redaction import MARKERS, SEED_CONTINUED_METADATA_KEY

    tracker = make_tracker((MARKERS["mnemonic"], "secret_exposed"), sender_id="conv-seed")
    assert "continues_previous" not in build_request(tracker).payload()
    tracker.latest_message["metadata"] = {SEED_CONTINUED_METADATA_KEY: True}
    assert build_request(tracker).payload()["continues_previous"] is True


def test_without_a_desk_the_user_is_told_honestly_and_no_ticket_is_invented(make_tracker, dispatcher, domain):
    tracker = make_tracker(("钱包被盗了", "suspected_theft"))
    events = asyncio.run(ActionEscalate().run(dispatcher, tracker, domain))
    assert events == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_escalation_unavailable", "utter_priority_note_p1"]


class FakeDesk:
    """Stands in for deskapi.client.DeskClient (the real one is exercised in tests/desk)."""

    def __init__(self, created=True, priority="P2", status="open", eta=7, next_shift=None, fail=False, open_ticket=True):
        self.payloads, self.status_asked = [], []
        self.answer = {
            "ticket": {"id": "T-ABC234", "priority": priority, "status": status},
            "created": created, "queue_position": 3, "agents_on_shift": 0 if eta is None else 2,
            "eta_minutes": eta, "next_shift_start": next_shift,
        }
        self.fail, self.has_open = fail, open_ticket

    async def escalate(self, payload):
        if self.fail:
            raise DeskUnavailable("down")
        self.payloads.append(payload)
        return self.answer

    async def open_ticket(self, conversation_id):
        self.status_asked.append(conversation_id)
        if self.fail:
            raise DeskUnavailable("down")
        return self.answer if self.has_open else None


def responses(dispatcher):
    return [m["response"] for m in dispatcher.messages]


def test_a_new_ticket_is_announced_with_id_position_and_eta_then_the_handoff_starts(make_tracker, dispatcher, domain):
    desk = FakeDesk()
    tracker = make_tracker(("转账卡住了", "stuck_transaction"), ("人工", "request_human"), sender_id="c1",
                           slots={"transfer_details_asked": True, "chain": "TRON", "tx_hash": "unknown"})
    events = asyncio.run(ActionEscalate(desk).run(dispatcher, tracker, domain))
    assert desk.payloads[0]["details"] == {"chain": "TRON"}  # a skipped answer is not a detail
    assert desk.payloads[0]["priority"] == "P2" and desk.payloads[0]["conversation_id"] == "c1"
    assert desk.payloads[0]["intent"] == "stuck_transaction"
    assert responses(dispatcher) == ["utter_ticket_opened", "utter_priority_note_p2", "utter_ticket_eta", "utter_handoff_started"]
    assert dispatcher.messages[0]["ticket_id"] == "T-ABC234"
    assert dispatcher.messages[2]["position"] == 3 and dispatcher.messages[2]["eta"] == 7
    assert events == [
        {"event": "slot", "name": "transfer_details_asked", "value": None, "timestamp": None},
        {"event": "followup", "name": "handoff_form", "timestamp": None},
    ]


def test_funds_in_transit_asks_for_chain_and_hash_once_before_the_ticket(make_tracker, dispatcher, domain):
    desk = FakeDesk()
    tracker = make_tracker(("转账卡住了", "stuck_transaction"), ("人工", "request_human"))
    events = asyncio.run(ActionEscalate(desk).run(dispatcher, tracker, domain))
    assert desk.payloads == [] and responses(dispatcher) == ["utter_transfer_details_intro"]
    assert events == [
        {"event": "slot", "name": "transfer_details_asked", "value": True, "timestamp": None},
        {"event": "followup", "name": "transfer_details_form", "timestamp": None},
    ]


def test_p1_never_waits_for_details(make_tracker, dispatcher, domain):
    desk = FakeDesk(priority="P1")
    asyncio.run(ActionEscalate(desk).run(dispatcher, make_tracker(("转账卡住了", "stuck_transaction"), ("币被盗了", "suspected_theft")), domain))
    assert len(desk.payloads) == 1 and desk.payloads[0]["priority"] == "P1"


def test_p1_is_marked_urgent_with_the_configured_sla(make_tracker, dispatcher, domain):
    desk = FakeDesk(priority="P1")
    asyncio.run(ActionEscalate(desk).run(dispatcher, make_tracker(("币被盗了", "suspected_theft")), domain))
    assert "utter_ticket_urgent" in responses(dispatcher)
    assert [m for m in dispatcher.messages if m["response"] == "utter_ticket_urgent"][0]["sla"] == 30


def test_a_merge_says_so(make_tracker, dispatcher, domain):
    asyncio.run(ActionEscalate(FakeDesk(created=False)).run(dispatcher, make_tracker(("人工", "request_human")), domain))
    assert responses(dispatcher)[0] == "utter_ticket_merged"


def test_nobody_on_shift_names_the_next_shift_in_local_time(make_tracker, dispatcher, domain):
    desk = FakeDesk(eta=None, next_shift="2026-11-23T00:00:00Z")
    asyncio.run(ActionEscalate(desk).run(dispatcher, make_tracker(("人工", "request_human")), domain))
    no_agent = [m for m in dispatcher.messages if m["response"] == "utter_ticket_eta_no_agent"]
    assert no_agent and no_agent[0]["next_shift"] == "11-23 08:00 (Asia/Shanghai)"


def test_an_unreachable_desk_keeps_the_escalation_on_disk(make_tracker, dispatcher, domain, tmp_path, monkeypatch):
    from deskapi import outbox

    box = outbox.EscalationOutbox(tmp_path / "outbox.db")
    monkeypatch.setattr(outbox, "_outbox", box)
    tracker = make_tracker(("人工", "request_human"), sender_id="down-1",
                           slots={"transfer_details_asked": True})
    events = asyncio.run(ActionEscalate(FakeDesk(fail=True)).run(dispatcher, tracker, domain))
    assert events == [] and responses(dispatcher) == ["utter_escalation_queued"]
    assert dispatcher.messages[0]["reference"].startswith("R-")  # a reference, never a made-up ticket id
    (entry_id, payload), = outbox.EscalationOutbox(tmp_path / "outbox.db").pending()  # on disk, not in memory
    assert payload["conversation_id"] == "down-1" and payload["priority"] == "P3" and payload["escalated_at"]


def test_ticket_status_without_a_desk(make_tracker, dispatcher, domain):
    tracker = make_tracker(("我的工单呢", "ticket_status"))
    assert asyncio.run(ActionTicketStatus().run(dispatcher, tracker, domain)) == []
    assert responses(dispatcher) == ["utter_no_open_ticket"]


def test_ticket_status_asks_the_desk(make_tracker, dispatcher, domain):
    desk = FakeDesk()
    asyncio.run(ActionTicketStatus(desk).run(dispatcher, make_tracker(("进度?", "ticket_status"), sender_id="c9"), domain))
    assert desk.status_asked == ["c9"]
    assert responses(dispatcher) == ["utter_ticket_status", "utter_ticket_eta"]


def test_ticket_status_with_no_open_ticket(make_tracker, dispatcher, domain):
    asyncio.run(ActionTicketStatus(FakeDesk(open_ticket=False)).run(dispatcher, make_tracker(("进度?", "ticket_status")), domain))
    assert responses(dispatcher) == ["utter_no_open_ticket"]
