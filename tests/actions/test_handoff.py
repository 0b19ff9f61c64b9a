import asyncio

import pytest

from deskapi.client import DeskUnavailable
from actions.handoff import (
    ActionCancelHandoff,
    ActionDeliverAgentReply,
    ActionRecordCsat,
    ActionTicketClosed,
    parse_rating,
)
from answers.handoff import ValidateHandoffForm

TICKET = {"ticket": {"id": "T-XYZ789", "priority": "P3", "status": "claimed"}}


class FakeDesk:
    """Records what the actions ask of the desk (the real desk is tested in tests/desk)."""

    def __init__(self, has_ticket=True, fail=False, replies=()):
        self.has_ticket, self.fail = has_ticket, fail
        self.appended, self.cancelled, self.ratings, self.acked, self.comments = [], [], [], [], []
        self.replies = list(replies)

    def _check(self):
        if self.fail:
            raise DeskUnavailable("down")

    async def append_message(self, conversation_id, text, intent, priority, idempotency_key=None,
                             continues_previous=False):
        self._check()
        self.appended.append((conversation_id, text, intent, priority))
        self.continued = getattr(self, "continued", []) + [continues_previous]
        return TICKET if self.has_ticket else None

    async def cancel(self, conversation_id):
        self._check()
        self.cancelled.append(conversation_id)
        return TICKET if self.has_ticket else None

    async def rate(self, conversation_id, rating, comment=None):
        self._check()
        self.ratings.append(rating)
        self.comments.append(comment)
        return TICKET if self.has_ticket else None

    async def pending_replies(self, conversation_id):
        self._check()
        return self.replies

    async def acknowledge(self, conversation_id, ids):
        self.acked.extend(ids)
        self.replies = []

    async def open_ticket(self, conversation_id):
        self._check()
        return TICKET if self.has_ticket else None


def in_handoff(tracker):
    """As Rasa calls the validation action: the extracted text is in the slot."""
    tracker.slots["handoff_message"] = tracker.latest_message.get("text")
    return tracker


def run(action, dispatcher, tracker, domain):
    return asyncio.run(action.run(dispatcher, tracker, domain))


def responses(dispatcher):
    return [m.get("response") for m in dispatcher.messages]


def test_a_message_during_handoff_is_relayed_and_acknowledged(make_tracker, dispatcher, domain):
    desk = FakeDesk()
    events = run(ValidateHandoffForm(desk), dispatcher, in_handoff(make_tracker(("还没到账，怎么办", "deposit_not_received"), sender_id="c1")), domain)
    assert desk.appended == [("c1", "还没到账，怎么办", "deposit_not_received", "P2")]
    assert responses(dispatcher) == ["utter_handoff_ack"]
    assert events == [{"event": "slot", "name": "handoff_message", "value": None, "timestamp": None}]


def test_theft_during_handoff_raises_priority_and_repeats_the_checklist(make_tracker, dispatcher, domain):
    desk = FakeDesk()
    run(ValidateHandoffForm(desk), dispatcher, in_handoff(make_tracker(("币刚被转走了", "suspected_theft"))), domain)
    assert desk.appended[0][3] == "P1"
    assert responses(dispatcher) == ["utter_theft_checklist", "utter_handoff_ack"]


def test_relay_to_a_closed_ticket_ends_the_handoff(make_tracker, dispatcher, domain):
    events = run(ValidateHandoffForm(FakeDesk(has_ticket=False)), dispatcher, in_handoff(make_tracker(("在吗", "greet"))), domain)
    assert responses(dispatcher) == ["utter_handoff_ended"]
    assert {"event": "active_loop", "name": None, "timestamp": None} in events


def test_relay_failure_is_told_and_the_handoff_stays(make_tracker, dispatcher, domain):
    events = run(ValidateHandoffForm(FakeDesk(fail=True)), dispatcher, in_handoff(make_tracker(("在吗", "greet"))), domain)
    assert responses(dispatcher) == ["utter_handoff_relay_failed"]
    assert all(e["event"] != "active_loop" for e in events)


def test_a_control_intent_is_not_relayed_so_the_form_steps_aside(make_tracker, dispatcher, domain):
    desk = FakeDesk()
    assert run(ValidateHandoffForm(desk), dispatcher, make_tracker(("取消人工", "cancel_handoff")), domain) == []
    assert desk.appended == [] and dispatcher.messages == []


def test_the_message_that_escalated_is_not_relayed_twice_when_the_form_starts(make_tracker, dispatcher, domain):
    desk = FakeDesk()
    tracker = in_handoff(make_tracker(("币被盗了", "suspected_theft")))
    tracker.events.append({"event": "action", "name": "action_escalate"})
    events = run(ValidateHandoffForm(desk), dispatcher, tracker, domain)
    assert desk.appended == [] and dispatcher.messages == []
    assert events == [{"event": "slot", "name": "handoff_message", "value": None, "timestamp": None}]


def test_cancel_closes_the_ticket_and_leaves_the_loop(make_tracker, dispatcher, domain):
    desk = FakeDesk()
    events = run(ActionCancelHandoff(desk), dispatcher, make_tracker(("取消人工", "cancel_handoff"), sender_id="c2"), domain)
    assert desk.cancelled == ["c2"] and responses(dispatcher) == ["utter_handoff_cancelled"]
    assert {"event": "active_loop", "name": None, "timestamp": None} in events


def test_cancel_without_a_ticket(make_tracker, dispatcher, domain):
    run(ActionCancelHandoff(FakeDesk(has_ticket=False)), dispatcher, make_tracker(("取消人工", "cancel_handoff")), domain)
    assert responses(dispatcher) == ["utter_no_handoff_to_cancel"]


def reply_trigger(tracker, *reply_ids):
    """The desk's trigger as Rasa passes it on: ``desk_agent_reply`` naming the replies to say."""
    entities = [{"entity": "desk_reply_id", "value": reply_id} for reply_id in reply_ids]
    event = {"event": "user", "text": None, "parse_data": {"intent": {"name": "desk_agent_reply", "confidence": 1.0},
                                                        "entities": entities, "text": None}}
    tracker.events.append(event)
    tracker.latest_message = event["parse_data"]
    return tracker


def test_the_replies_the_trigger_names_are_said_with_a_label_and_not_acknowledged(make_tracker, dispatcher, domain):
    # The desk marks them delivered itself once Rasa's channel took them (the trigger answered 2xx).
    desk = FakeDesk(replies=[{"id": 4, "text": "请提供交易哈希"}, {"id": 5, "text": "我们在查"}, {"id": 6, "text": "稍等"}])
    run(ActionDeliverAgentReply(desk), dispatcher, reply_trigger(make_tracker(("转人工", "request_human")), 4, 5), domain)
    assert [m["text"] for m in dispatcher.messages] == ["人工客服：请提供交易哈希", "人工客服：我们在查"]
    assert desk.acked == []


def test_a_trigger_naming_no_reply_says_nothing(make_tracker, dispatcher, domain):
    desk = FakeDesk(replies=[{"id": 4, "text": "请提供交易哈希"}])
    run(ActionDeliverAgentReply(desk), dispatcher, make_tracker(("/desk_agent_reply", "desk_agent_reply")), domain)
    assert dispatcher.messages == [] and desk.acked == []


def test_a_reply_an_earlier_turn_already_said_is_not_said_again(make_tracker, dispatcher, domain):
    # The channel took it but the desk never heard back (its call timed out): the retry says nothing twice.
    tracker = reply_trigger(make_tracker(("转人工", "request_human")), 4)
    tracker.events.append({"event": "bot", "text": "人工客服：请提供交易哈希"})
    tracker = reply_trigger(tracker, 4, 5)
    desk = FakeDesk(replies=[{"id": 4, "text": "请提供交易哈希"}, {"id": 5, "text": "我们在查"}])
    run(ActionDeliverAgentReply(desk), dispatcher, tracker, domain)
    assert [m["text"] for m in dispatcher.messages] == ["人工客服：我们在查"]


def test_agent_replies_follow_the_users_language(make_tracker, dispatcher, domain):
    desk = FakeDesk(replies=[{"id": 1, "text": "Please send the tx hash"}])
    run(ActionDeliverAgentReply(desk), dispatcher, reply_trigger(make_tracker(("I need a human", "request_human")), 1), domain)
    assert dispatcher.messages[0]["text"] == "Agent: Please send the tx hash"


def test_a_forged_close_of_an_open_ticket_does_nothing(make_tracker, dispatcher, domain):
    assert run(ActionTicketClosed(FakeDesk(has_ticket=True)), dispatcher, make_tracker(("x", "desk_ticket_closed")), domain) == []
    assert dispatcher.messages == []


def test_a_real_close_asks_for_a_rating(make_tracker, dispatcher, domain):
    # Pending replies are not said here: the desk delivers them (and counts them) before it announces the close.
    desk = FakeDesk(has_ticket=False, replies=[{"id": 9, "text": "已处理"}])
    run(ActionTicketClosed(desk), dispatcher, make_tracker(("x", "desk_ticket_closed")), domain)
    assert responses(dispatcher) == ["utter_ticket_closed", "utter_ask_csat"]


def test_a_rating_is_recorded(make_tracker, dispatcher, domain):
    desk = FakeDesk()
    run(ActionRecordCsat(desk), dispatcher, make_tracker(("4分", "give_rating")), domain)
    assert desk.ratings == [4] and responses(dispatcher) == ["utter_csat_thanks"]


def test_a_rating_with_nothing_to_rate(make_tracker, dispatcher, domain):
    run(ActionRecordCsat(FakeDesk(has_ticket=False)), dispatcher, make_tracker(("5", "give_rating")), domain)
    assert responses(dispatcher) == ["utter_csat_nothing_to_rate"]


@pytest.mark.parametrize("text, rating", [
    ("5", 5), ("5分", 5), ("1分，太慢了", 1), ("⭐⭐⭐", 3), ("五星", 5), ("给个四星", 4), ("3/5", 3), ("2 out of 5", 2),
    ("rating 2", 2), ("12", None), ("很好", None), ("4 or 5", None),
])
def test_parse_rating(text, rating):
    assert parse_rating(text) == rating


def test_a_hand_back_says_the_bot_is_back_and_asks_no_rating(make_tracker, dispatcher, domain):
    tracker = make_tracker(("x", "desk_ticket_closed"))
    tracker.latest_message = {**tracker.latest_message, "entities": [{"entity": "desk_handback", "value": True}]}
    run(ActionTicketClosed(FakeDesk(has_ticket=False)), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_handed_back"]


@pytest.mark.parametrize("text, comment", [
    ("5", None), ("5分", None), ("⭐⭐⭐", None), ("给个四星", None), ("3/5", None), ("rate 4", None),
    ("1分，太慢了", "太慢了"), ("4 - quick and kind", "quick and kind"), ("五星！客服很耐心", "客服很耐心"),
])
def test_the_line_added_to_a_rating(text, comment):
    from actions.handoff import rating_comment
    assert rating_comment(text) == comment


def test_a_rating_with_a_line_sends_the_line(make_tracker, dispatcher, domain):
    desk = FakeDesk()
    run(ActionRecordCsat(desk), dispatcher, make_tracker(("2分，等太久了", "give_rating")), domain)
    assert desk.ratings == [2] and desk.comments == ["等太久了"]


def test_a_relayed_message_that_continues_a_seed_tells_the_desk(make_tracker, dispatcher, domain):
    """The gate's flag (never the words) goes with the relay, so the desk hides the first part it keeps."""
    from safety.redaction import MARKERS, SEED_CONTINUED_METADATA_KEY

    desk = FakeDesk()
    tracker = make_tracker((MARKERS["mnemonic"], "secret_exposed"), sender_id="c-seed")
    tracker.latest_message["metadata"] = {SEED_CONTINUED_METADATA_KEY: True}
    run(ValidateHandoffForm(desk), dispatcher, in_handoff(tracker), domain)
    assert desk.continued == [True]
    plain = FakeDesk()
    run(ValidateHandoffForm(plain), dispatcher, in_handoff(make_tracker(("还没到账", "deposit_not_received"))), domain)
    assert plain.continued == [False]
