"""Item 5 of the security review: an agent reply counts as delivered only once the user's channel took it.

The desk triggers ``desk_agent_reply`` for one reply at a time, naming it; Rasa answers non-2xx when
the output channel raised (a Telegram 403, a widget with no socket), and the tracker in its answer shows
whether the bot really said the reply. Anything else leaves the reply undelivered, shown as such in
the API and on the ticket page with a retry button.
"""

import asyncio
import re
import time

import requests

from desk.oncall import OnCallAlerts
from desk.rasa_client import AGENT_REPLY_INTENT, RasaUnavailable
from desk.serialize import message_json
from desk.web import Desk
from tests.desk.webapp import RunningDesk


class FakeRasa:
    """Rasa's trigger_intent as the desk sees it: refuses (non-2xx), or answers the tracker of the turn."""

    def __init__(self, service):
        self.service = service
        self.calls = []
        self.refuse = None  # the reason Rasa answers non-2xx (the channel raised)
        self.say = True  # False: 2xx, but the bot said nothing (e.g. the action could not reach the desk)

    async def trigger(self, conversation_id, intent, entities=None):
        self.calls.append((conversation_id, intent, entities))
        if self.refuse:
            raise RasaUnavailable(self.refuse)
        events = []
        for entity in entities or ():
            events.append({"event": "user", "parse_data": {"intent": {"name": intent}, "entities": [entity]}})
            texts = {m.id: m.text for m in self.service.pending_replies(conversation_id)}
            if self.say and entity["value"] in texts:
                events.append({"event": "bot", "text": "人工客服：" + texts[entity["value"]]})
        return {"tracker": {"events": events}}


def desk_with(service, rasa):
    settings = service.settings
    return Desk(settings, service, rasa, OnCallAlerts("http://127.0.0.1:9", None, None, settings.url))


def test_a_reply_is_delivered_only_once_the_channel_took_it_and_the_bot_said_it(service, agent):
    ticket = service.escalate("c-deliver", "P2").ticket
    first = service.reply(ticket.public_id, agent, "请提供交易哈希")
    second = service.reply(ticket.public_id, agent, "我们在查")
    rasa = FakeRasa(service)
    desk = desk_with(service, rasa)

    rasa.refuse = "Rasa answered 500: Bot API sendMessage failed: HTTP 403 Forbidden: bot was blocked by the user"
    asyncio.run(desk.deliver("c-deliver"))
    pending = service.pending_replies("c-deliver")
    assert [m.id for m in pending] == [first.id, second.id]
    assert len(rasa.calls) == 1  # the first failure stops the round: a later reply never overtakes
    assert "403" in pending[0].last_error and pending[0].delivery_attempts == 1
    assert message_json(pending[0])["delivery"] == "undelivered"

    rasa.refuse, rasa.say = None, False
    asyncio.run(desk.deliver("c-deliver"))
    assert [m.id for m in service.pending_replies("c-deliver")] == [first.id, second.id]

    rasa.say = True
    rasa.calls.clear()
    asyncio.run(desk.deliver("c-deliver"))
    assert service.pending_replies("c-deliver") == []
    assert rasa.calls == [("c-deliver", AGENT_REPLY_INTENT, [{"entity": "desk_reply_id", "value": first.id}]),
                          ("c-deliver", AGENT_REPLY_INTENT, [{"entity": "desk_reply_id", "value": second.id}])]
    delivered = service.get(ticket.public_id).messages
    assert [message_json(m)["delivery"] for m in delivered if m.direction == "agent"] == ["delivered", "delivered"]


def test_undelivered_replies_are_shown_and_can_be_retried(service, agent):
    ticket = service.escalate("c-retry", "P3").ticket
    reply = service.reply(ticket.public_id, agent, "您好")
    token = service.create_api_token("alice", "alice")
    with RunningDesk(service) as running:
        rasa = FakeRasa(service)
        rasa.refuse = "Rasa answered 500: no widget connected"
        running.desk.rasa = rasa
        asyncio.run_coroutine_threadsafe(running.desk.deliver("c-retry"), running._loop).result(10)
        shown = running.api("GET", f"/api/tickets/{ticket.public_id}", token).json()["messages"]
        agent_message = [m for m in shown if m["from"] == "agent"][0]
        assert agent_message["delivery"] == "undelivered" and agent_message["delivered_at"] is None
        assert "no widget connected" in agent_message["last_error"]

        browser = requests.Session()
        assert running.login("alice", "correct horse battery", browser).status_code == 302
        page = browser.get(f"{running.url}/desk/tickets/{ticket.public_id}", timeout=30).text
        assert "未送达" in page and f'/desk/tickets/{ticket.public_id}/messages/{reply.id}/retry' in page
        thread = browser.get(f"{running.url}/desk/tickets/{ticket.public_id}/thread", timeout=30).text
        assert f'/messages/{reply.id}/retry' in thread

        rasa.refuse = None
        retried = running.api("POST", f"/api/tickets/{ticket.public_id}/messages/{reply.id}/retry", token)
        assert retried.status_code == 202, retried.text
        assert _wait(lambda: service.pending_replies("c-retry") == [])
        assert running.api("GET", f"/api/tickets/{ticket.public_id}", token).json()["messages"][-1]["delivery"] == "delivered"
        assert running.api("POST", f"/api/tickets/{ticket.public_id}/messages/{reply.id}/retry", token).status_code == 409
        user_message = [m for m in shown if m["from"] != "agent"][0]
        assert running.api("POST", f"/api/tickets/{ticket.public_id}/messages/{user_message['id']}/retry", token).status_code == 404

        # The page's button does the same.
        again = service.reply(ticket.public_id, agent, "还在吗")
        rasa.refuse = "Rasa answered 500: no widget connected"
        asyncio.run_coroutine_threadsafe(running.desk.deliver("c-retry"), running._loop).result(10)
        page = browser.get(f"{running.url}/desk/tickets/{ticket.public_id}", timeout=30).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        rasa.refuse = None
        posted = browser.post(f"{running.url}/desk/tickets/{ticket.public_id}/messages/{again.id}/retry",
                              data={"csrf": csrf}, allow_redirects=False, timeout=30)
        assert posted.status_code == 302
        assert _wait(lambda: service.pending_replies("c-retry") == [])


def test_the_bot_asks_for_delivery_when_a_widget_comes_back(service, agent):
    ticket = service.escalate("widget-session", "P3").ticket
    service.reply(ticket.public_id, agent, "您好")
    with RunningDesk(service) as running:
        rasa = FakeRasa(service)
        running.desk.rasa = rasa
        asked = running.api("POST", "/api/conversations/widget-session/replies/deliver", "automation-token")
        assert asked.status_code == 202 and asked.json() == {"pending": 1}
        assert _wait(lambda: service.pending_replies("widget-session") == [])
        assert running.api("POST", "/api/conversations/widget-session/replies/deliver", "automation-token").json() == {"pending": 0}


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
