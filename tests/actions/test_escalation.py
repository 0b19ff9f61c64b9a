import asyncio

import pytest

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


def test_request_carries_the_reason_and_transfer_details_but_no_text(make_tracker):
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
    )


def test_without_a_desk_the_user_is_told_honestly_and_no_ticket_is_invented(make_tracker, dispatcher, domain):
    tracker = make_tracker(("钱包被盗了", "suspected_theft"))
    events = asyncio.run(ActionEscalate().run(dispatcher, tracker, domain))
    assert events == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_escalation_unavailable", "utter_priority_note_p1"]


class RecordingBackend:
    def __init__(self):
        self.requests = []
        self.status_asked = []

    def escalate(self, request, dispatcher):
        self.requests.append(request)
        dispatcher.utter_message(text="ticket T-1")
        return [{"event": "slot", "name": "chain", "value": None}]

    def ticket_status(self, conversation_id, dispatcher):
        self.status_asked.append(conversation_id)
        return []


def test_a_connected_desk_receives_the_request(make_tracker, dispatcher, domain):
    backend = RecordingBackend()
    tracker = make_tracker(("转账卡住了", "stuck_transaction"), ("人工", "request_human"))
    events = asyncio.run(ActionEscalate(backend).run(dispatcher, tracker, domain))
    assert [r.priority for r in backend.requests] == [Priority.P2]
    assert events == [{"event": "slot", "name": "chain", "value": None}]
    assert [m["text"] for m in dispatcher.messages] == ["ticket T-1"]


def test_ticket_status_without_a_desk(make_tracker, dispatcher, domain):
    tracker = make_tracker(("我的工单呢", "ticket_status"))
    assert asyncio.run(ActionTicketStatus().run(dispatcher, tracker, domain)) == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_no_open_ticket"]


def test_ticket_status_asks_the_desk(make_tracker, dispatcher, domain):
    backend = RecordingBackend()
    asyncio.run(ActionTicketStatus(backend).run(dispatcher, make_tracker(("进度?", "ticket_status"), sender_id="c9"), domain))
    assert backend.status_asked == ["c9"]
