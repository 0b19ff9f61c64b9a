"""The bot's side of incident mode: notice first, count, subscribe, deflect once, deliver updates."""

import asyncio
from typing import Any, Dict, List

import pytest

from deskapi.client import DeskUnavailable
from actions.escalation import ActionEscalate
from actions.incidents import ActionDeliverIncidentUpdates, ActionIncidentSubscribe
from answers.faq import ActionAnswerFaq, board, covering_incident

OUTAGE = {"id": "INC-ABCDE", "title": "App 无法连接", "status": "identified", "message_zh": "节点故障，正在切换。",
          "message_en": "A node failed; we are switching.", "intents": ["app_connectivity"], "chains": [],
          "eta": "2026-11-23T10:00:00Z"}
TRON = {**OUTAGE, "id": "INC-TRONX", "title": "TRON 拥堵", "intents": ["stuck_transaction"], "chains": ["TRON"], "eta": None}


class FakeDesk:
    """Stands in for deskapi.client.DeskClient (the real one runs in tests/test_incidents_end_to_end.py)."""

    def __init__(self, incidents: List[Dict[str, Any]], refuse: int = 0) -> None:
        self.incidents = incidents
        self.refuse = refuse
        self.contacts: List[Dict[str, Any]] = []
        self.escalations: List[Dict[str, Any]] = []
        self.acknowledged: List[int] = []
        self.notices: List[Dict[str, Any]] = []

    async def active_incidents(self):
        return self.incidents

    async def incident_contact(self, incident_id, payload):
        if self.refuse:
            raise DeskUnavailable("refused", status=self.refuse)
        self.contacts.append({"incident": incident_id, **payload})
        return {}

    async def escalate(self, payload):
        self.escalations.append(payload)
        return {"ticket": {"id": "T-XYZ234", "priority": payload["priority"], "status": "open"}, "created": True,
                "queue_position": 1, "agents_on_shift": 1, "eta_minutes": 10, "next_shift_start": None}

    async def incident_notices(self, conversation_id):
        return self.notices

    async def acknowledge_incident_notices(self, conversation_id, ids):
        self.acknowledged.extend(ids)


@pytest.fixture(autouse=True)
def fresh_board():
    board.forget()
    yield
    board.forget()


def run(action, dispatcher, tracker, domain):
    return asyncio.run(action.run(dispatcher, tracker, domain))


def responses(dispatcher):
    return [m["response"] for m in dispatcher.messages]


def test_without_an_incident_the_curated_answer_is_given(make_tracker, dispatcher, domain):
    desk = FakeDesk([])
    events = run(ActionAnswerFaq(desk), dispatcher, make_tracker(("app打不开", "app_connectivity")), domain)
    # The curated answer, then the feedback question (answers/feedback.py).
    assert events == [{"event": "slot", "name": "feedback_asked", "timestamp": None, "value": ["app_connectivity"]}]
    assert responses(dispatcher) == ["utter_app_connectivity", "utter_ask_helpful"] and desk.contacts == []


def test_a_covered_question_gets_the_notice_with_a_subscribe_button_and_is_counted(make_tracker, dispatcher, domain):
    desk = FakeDesk([OUTAGE])
    events = run(ActionAnswerFaq(desk), dispatcher, make_tracker(("app一直转圈", "app_connectivity"), sender_id="u7"), domain)
    assert responses(dispatcher) == ["utter_incident_notice"]
    notice = dispatcher.messages[0]
    assert notice["incident_message"] == OUTAGE["message_zh"] and notice["incident_status"] == "已定位原因，修复中"
    assert notice["incident_eta"].startswith("11-23 18:00")  # the desk's time zone (Asia/Shanghai)
    assert notice["buttons"] == [{"title": "恢复后通知我", "payload": "/incident_subscribe"}]
    assert desk.contacts == [{"incident": "INC-ABCDE", "conversation_id": "u7", "channel": "unknown", "language": "zh"}]
    assert events == [{"event": "slot", "timestamp": None, "name": "incident", "value": "INC-ABCDE"}]


def test_the_notice_is_in_english_for_english_users(make_tracker, dispatcher, domain):
    run(ActionAnswerFaq(FakeDesk([OUTAGE])), dispatcher, make_tracker(("the app won't load", "app_connectivity")), domain)
    assert dispatcher.messages[0]["incident_message"] == OUTAGE["message_en"]
    assert dispatcher.messages[0]["buttons"][0]["title"] == "Notify me when fixed"


def test_other_intents_and_other_chains_are_not_covered():
    assert covering_incident([OUTAGE], "create_wallet", None) is None
    assert covering_incident([TRON], "stuck_transaction", "Ethereum") is None
    assert covering_incident([TRON], "stuck_transaction", "tron") is TRON


def test_a_chain_incident_without_a_known_chain_gives_the_notice_and_the_usual_answer(make_tracker, dispatcher, domain):
    run(ActionAnswerFaq(FakeDesk([TRON])), dispatcher, make_tracker(("转账一直pending", "stuck_transaction")), domain)
    assert responses(dispatcher) == ["utter_incident_notice", "utter_incident_chains_note", "utter_stuck_transaction"]
    assert dispatcher.messages[0]["incident_eta"] == "暂未确定，我们会及时更新"


def test_subscribing_records_the_subscription_for_the_incident_shown(make_tracker, dispatcher, domain):
    desk = FakeDesk([OUTAGE, TRON])
    tracker = make_tracker(("恢复后通知我", "incident_subscribe"), slots={"incident": "INC-ABCDE"}, sender_id="u8")
    run(ActionIncidentSubscribe(desk), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_incident_subscribed"]
    assert desk.contacts[0]["subscribe"] is True and desk.contacts[0]["incident"] == "INC-ABCDE"


def test_subscribing_to_a_resolved_incident_says_so(make_tracker, dispatcher, domain):
    tracker = make_tracker(("恢复后通知我", "incident_subscribe"), slots={"incident": "INC-ABCDE"})
    run(ActionIncidentSubscribe(FakeDesk([], refuse=409)), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_incident_already_resolved"]


def test_subscribing_with_no_incident_in_sight_says_there_is_none(make_tracker, dispatcher, domain):
    run(ActionIncidentSubscribe(FakeDesk([OUTAGE, TRON])), dispatcher, make_tracker(("恢复后通知我", "incident_subscribe")), domain)
    assert responses(dispatcher) == ["utter_incident_none"]


def test_the_first_request_for_a_person_is_deflected_the_second_opens_a_linked_ticket(make_tracker, dispatcher, domain):
    desk = FakeDesk([OUTAGE])
    first = make_tracker(("app打不开", "app_connectivity"), ("转人工", "request_human"), slots={"incident": "INC-ABCDE"})
    events = run(ActionEscalate(desk), dispatcher, first, domain)
    assert responses(dispatcher) == ["utter_incident_deflect"] and desk.escalations == []
    assert desk.contacts[0]["deflected"] is True
    assert events == [{"event": "slot", "timestamp": None, "name": "incident_deflected", "value": True}]
    dispatcher.messages.clear()
    second = make_tracker(("app打不开", "app_connectivity"), ("转人工", "request_human"), ("我要人工", "request_human"),
                          slots={"incident": "INC-ABCDE", "incident_deflected": True})
    run(ActionEscalate(desk), dispatcher, second, domain)
    assert desk.escalations[0]["incident"] == "INC-ABCDE" and desk.escalations[0]["priority"] == "P3"
    assert "utter_ticket_opened" in responses(dispatcher)


def test_theft_during_an_incident_is_never_deflected(make_tracker, dispatcher, domain):
    desk = FakeDesk([OUTAGE])
    tracker = make_tracker(("app打不开", "app_connectivity"), ("我的币被盗了", "suspected_theft"), slots={"incident": "INC-ABCDE"})
    run(ActionEscalate(desk), dispatcher, tracker, domain)
    assert desk.escalations[0]["priority"] == "P1" and desk.escalations[0]["incident"] is None
    assert "utter_incident_deflect" not in responses(dispatcher)


def test_pending_updates_are_said_then_acknowledged(make_tracker, dispatcher, domain):
    desk = FakeDesk([])
    desk.notices = [{"id": 3, "incident": "INC-ABCDE", "title": "App 无法连接", "status": "monitoring",
                     "message_zh": "已切换节点。", "message_en": "Switched.", "eta": None},
                    {"id": 4, "incident": "INC-ABCDE", "title": "App 无法连接", "status": "resolved",
                     "message_zh": "已全部恢复。", "message_en": "All fixed.", "eta": None}]
    run(ActionDeliverIncidentUpdates(desk), dispatcher, make_tracker(), domain)
    assert responses(dispatcher) == ["utter_incident_update", "utter_incident_resolved"]
    assert dispatcher.messages[1]["incident_message"] == "已全部恢复。"
    assert desk.acknowledged == [3, 4]
