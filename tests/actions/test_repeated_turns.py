"""A turn that runs twice (the front re-runs it after a worker timeout) reaches the desk once.

The actions run against the real desk app and its HTTP client: the idempotency key the
actions derive from the user message travels to the desk, which de-duplicates on it.
"""

import asyncio

from rasa_sdk.executor import CollectingDispatcher

from actions.escalation import ActionEscalate
from answers.handoff import ValidateHandoffForm
from desk.db import Database, migrate
from desk.service import DeskService
from desk.settings import DeskSettings, ShiftSetting
from deskapi.client import DeskClient
from tests.desk.webapp import RunningDesk

ALWAYS = (ShiftSetting(weekdays=tuple(range(7)), start="00:00", end="24:00", agents=2),)


def with_message_id(tracker, message_id):
    tracker.events[-1]["message_id"] = message_id  # as Rasa sends it: every user event has one
    return tracker


def run_twice(action, tracker, domain):
    said = []
    for _ in range(2):
        dispatcher = CollectingDispatcher()
        asyncio.run(action.run(dispatcher, tracker, domain))
        said.append(dispatcher.messages)
    return said


def test_an_escalation_and_a_relay_run_twice_make_one_ticket_and_one_message(tmp_path, make_tracker, domain):
    settings = DeskSettings(database_url=f"sqlite:///{tmp_path / 'desk.db'}", default_shifts=ALWAYS, api_token="bot-token")
    migrate(settings.database_url)
    service = DeskService(Database(settings.database_url), settings)
    service.seed_shifts()
    with RunningDesk(service) as running:
        desk = DeskClient(running.url, "bot-token")
        theft = with_message_id(make_tracker(("我的币被盗了，不是我操作的", "suspected_theft"), sender_id="twice-1"), "m-1")
        first, second = run_twice(ActionEscalate(desk), theft, domain)
        assert first == second  # the same ticket, told the same way ("opened", not "merged")
        assert first[0]["response"] == "utter_ticket_opened"

        relay = with_message_id(make_tracker(("我的币被盗了，不是我操作的", "suspected_theft"), ("地址是 TXa1b2", "inform"),
                                             sender_id="twice-1"), "m-2")
        relay.slots["handoff_message"] = "地址是 TXa1b2"
        run_twice(ValidateHandoffForm(desk), relay, domain)

    tickets = [t for t in service.queue("all") if t.conversation_id == "twice-1"]
    assert len(tickets) == 1
    ticket = service.get(tickets[0].public_id)
    assert ticket.escalations == 1
    assert [m.text for m in ticket.messages if m.direction == "user"] == ["我的币被盗了，不是我操作的", "地址是 TXa1b2"]
