"""Presence and auto-assignment (desk.assignment), the ETA from online agents, the capacity alarm,
notes, transfer and hand-back over the API (issue #20)."""

import asyncio
from datetime import datetime, timedelta

from desk.capacity import CapacityAlarm
from desk.handling import Handling
from desk.notifications import Notices
from tests.desk.test_paging_and_floods import RecordingAlerts
from tests.desk.webapp import RunningDesk

NOW = datetime(2026, 11, 22, 4, 0)


def online(service, *names, languages="zh,en"):
    handling = Handling(service)
    agents = []
    for name in names:
        agent = service.create_agent(name, "correct horse battery", "agent")
        handling.set_presence(agent, "online", languages, now=NOW)
        agents.append(agent)
    return handling, agents


def test_new_tickets_go_round_robin_to_online_agents(service):
    online(service, "bob", "carol")
    assignees = [service.escalate(f"c{i}", "P3", text="转人工", now=NOW + timedelta(seconds=i)).ticket.public_id
                 for i in range(4)]
    names = [service.get(t).assignee.username for t in assignees]
    assert names == ["bob", "carol", "bob", "carol"]
    assert all(service.get(t).status == "open" for t in assignees)  # assigned, not claimed


def test_nobody_online_leaves_the_ticket_in_the_queue(service, agent):
    ticket = service.escalate("c1", "P3", text="转人工", now=NOW).ticket
    assert service.get(ticket.public_id).assignee is None


def test_the_cap_is_respected(service):
    online(service, "bob")
    cap = service.settings.assignment_cap
    tickets = [service.escalate(f"c{i}", "P3", text="x", now=NOW + timedelta(seconds=i)).ticket.public_id
               for i in range(cap + 1)]
    assert [service.get(t).assignee is not None for t in tickets] == [True] * cap + [False]


def test_zh_tickets_prefer_zh_speakers(service):
    handling, (en_agent,) = online(service, "erin", languages="en")
    online(service, "zhang", languages="zh")
    for i in range(3):
        ticket = service.escalate(f"z{i}", "P3", language="zh", text="转人工", now=NOW + timedelta(seconds=i)).ticket
        assert service.get(ticket.public_id).assignee.username == "zhang"
    english = service.escalate("e1", "P3", language="en", text="human", now=NOW).ticket
    assert service.get(english.public_id).assignee.username == "erin"


def test_going_offline_hands_unclaimed_tickets_back(service):
    handling, (bob, carol) = online(service, "bob", "carol")
    first = service.escalate("c1", "P3", text="x", now=NOW).ticket.public_id      # bob
    second = service.escalate("c2", "P3", text="x", now=NOW).ticket.public_id     # carol
    service.claim(first, bob)
    handling.set_presence(carol, "offline", now=NOW)
    handling.set_presence(bob, "offline", now=NOW)
    assert service.get(first).assignee.username == "bob"  # claimed: still bob's
    assert service.get(second).assignee is None            # unclaimed: back in the queue


def test_going_offline_offers_the_tickets_to_the_others_online(service):
    handling, (bob, carol) = online(service, "bob", "carol")
    tickets = [service.escalate(f"c{i}", "P3", text="x", now=NOW).ticket.public_id for i in range(2)]
    _row, moved = handling.set_presence(bob, "offline", now=NOW)
    assert [m.public_id for m in moved] == [tickets[0]]
    assert {service.get(t).assignee.username for t in tickets} == {"carol"}


def test_the_eta_uses_the_agents_online(service):
    # The shift plan says 2 agents; one is online, so 4 tickets take 4 rounds, not 2.
    online(service, "bob")
    for i in range(3):
        service.escalate(f"c{i}", "P3", text="x", now=NOW)
    last = service.escalate("c3", "P3", text="x", now=NOW)
    assert last.eta.agents_on_shift == 1
    assert last.eta.minutes == 4 * service.settings.minutes_per_ticket


def test_the_capacity_alarm_pages_once_per_episode(service):
    handling, (bob,) = online(service, "bob")
    alerts, notices = RecordingAlerts(), Notices()
    alarm = CapacityAlarm(service, alerts, notices)
    assert asyncio.run(alarm.check(NOW)) is False  # nothing waiting
    for i in range(21):
        service.escalate(f"theft{i}", "P1", intent="suspected_theft", text="被盗", now=NOW)
    assert asyncio.run(alarm.check(NOW)) is True
    assert asyncio.run(alarm.check(NOW)) is False  # same episode: no second page
    assert len(alerts.sent) == 1
    assert "21 waiting (21 P1)" in alerts.sent[0] and "agents online: 1" in alerts.sent[0]
    assert "about 210 min" in alerts.sent[0]
    supervisor = service.create_agent("sue", "correct horse battery", "supervisor")
    assert [n.kind for n in notices.for_agent(supervisor, 0)] == ["capacity"]
    assert notices.for_agent(bob, 0) == []
    # More agents come online: the episode ends; a new overload is a new episode.
    online(service, *(f"extra{i}" for i in range(9)))
    assert asyncio.run(alarm.check(NOW)) is False and alarm.in_episode is False
    for i in range(60):
        service.escalate(f"more{i}", "P1", intent="suspected_theft", text="被盗", now=NOW)
    assert asyncio.run(alarm.check(NOW)) is True
    assert len(alerts.sent) == 2


def test_presence_notes_transfer_and_handback_over_the_api(service):
    for name in ("bob", "carol"):
        service.create_agent(name, "correct horse battery", "agent")
    service.create_agent("sue", "correct horse battery", "supervisor")
    bob, carol, sue = (service.create_api_token(n, n) for n in ("bob", "carol", "sue"))
    ops = service.create_api_token("ops")
    with RunningDesk(service) as desk:
        assert desk.api("PUT", "/api/agents/me/status", bob, json={"status": "online"}).json()["status"] == "online"
        assert desk.api("PUT", "/api/agents/me/status", bob, json={"status": "away"}).status_code == 400
        assert desk.api("PUT", "/api/agents/me/status", ops, json={"status": "online"}).status_code == 403
        escalated = desk.api("POST", "/api/escalations", ops, json={"conversation_id": "u1", "priority": "P2", "text": "转账没到"})
        public_id = escalated.json()["ticket"]["id"]
        assert desk.api("GET", f"/api/tickets/{public_id}", bob).json()["assignee"] == "bob"
        note = desk.api("POST", f"/api/tickets/{public_id}/notes", bob, json={"text": "user seems legit"})
        assert note.status_code == 201 and note.json()["from"] == "note"
        assert desk.api("POST", f"/api/tickets/{public_id}/notes", bob, json={"text": "  "}).status_code == 400
        # A note is never a reply to deliver.
        assert service.pending_replies("u1") == []
        # carol cannot take bob's ticket; bob can give it to her; sue (supervisor) can move any ticket.
        assert desk.api("POST", f"/api/tickets/{public_id}/assign", carol, json={"agent": "carol"}).status_code == 403
        assert desk.api("POST", f"/api/tickets/{public_id}/assign", bob, json={"agent": "nobody"}).status_code == 404
        moved = desk.api("POST", f"/api/tickets/{public_id}/assign", bob, json={"agent": "carol"})
        assert moved.status_code == 200 and moved.json()["assignee"] == "carol"
        assert desk.api("POST", f"/api/tickets/{public_id}/assign", sue, json={"agent": "bob"}).json()["assignee"] == "bob"
        # Going offline hands the unclaimed ticket back.
        desk.api("PUT", "/api/agents/me/status", bob, json={"status": "offline"})
        assert desk.api("GET", f"/api/tickets/{public_id}", bob).json()["assignee"] is None
        handed = desk.api("POST", f"/api/tickets/{public_id}/handback", bob)
        assert handed.status_code == 200
        assert handed.json()["status"] == "closed" and handed.json()["outcome"] == "handed_back"
        assert desk.api("POST", f"/api/tickets/{public_id}/handback", bob).status_code == 409
        agents = desk.api("GET", "/api/agents", sue).json()["agents"]
        assert {a["username"]: a["status"] for a in agents} == {"bob": "offline", "carol": "offline", "sue": "offline"}


def test_writing_again_soon_after_a_close_reopens_the_same_ticket(service, agent):
    first = service.escalate("u1", "P3", text="转人工", now=NOW).ticket.public_id
    service.close(first, agent, "resolved", now=NOW + timedelta(minutes=1))
    again = service.escalate("u1", "P2", text="还是没到", now=NOW + timedelta(minutes=5))
    assert again.reopened and again.ticket.public_id == first and again.ticket.status == "open"
    assert again.ticket.priority == "P2" and again.ticket.reopened == 1
    service.close(first, agent, "resolved", now=NOW + timedelta(minutes=6))
    later = service.escalate("u1", "P3", text="转人工", now=NOW + timedelta(minutes=6 + service.settings.reopen_minutes + 1))
    assert later.created and later.ticket.public_id != first


def test_the_pages_switch_presence_and_show_notes_and_notifications(service):
    import re
    import requests
    service.create_agent("bob", "correct horse battery", "agent")
    with RunningDesk(service) as desk:
        browser = requests.Session()
        assert desk.login("bob", "correct horse battery", browser).status_code == 302
        queue = browser.get(f"{desk.url}/desk/", timeout=30).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', queue).group(1)
        assert 'id="presence-online"' in queue and 'data-status="offline"' in queue
        first = browser.get(f"{desk.url}/desk/notifications", timeout=30).json()["last"]
        browser.post(f"{desk.url}/desk/status", data={"csrf": csrf, "status": "online"}, timeout=30)
        assert 'data-status="online"' in browser.get(f"{desk.url}/desk/", timeout=30).text
        public_id = service.escalate("u1", "P1", intent="suspected_theft", text="被盗了", now=NOW).ticket.public_id
        # The route posts the notices; the service alone does not, so go through the API as the bot does.
        desk.api("POST", "/api/escalations", service.settings.api_token,
                 json={"conversation_id": "u2", "priority": "P1", "intent": "suspected_theft", "text": "被盗"})
        kinds = {n["kind"] for n in browser.get(f"{desk.url}/desk/notifications?after={first}", timeout=30).json()["notices"]}
        assert kinds == {"assigned", "p1"}
        page = browser.get(f"{desk.url}/desk/tickets/{public_id}", timeout=30).text
        assert 'id="context"' in page and 'id="transfer-form"' in page and 'id="handback"' in page
        browser.post(f"{desk.url}/desk/tickets/{public_id}/notes", data={"csrf": csrf, "text": "call back later"}, timeout=30)
        thread = browser.get(f"{desk.url}/desk/tickets/{public_id}/thread", timeout=30).text
        assert 'data-direction="note"' in thread and "call back later" in thread


def test_a_rating_comment_is_kept_and_shown_on_the_dashboard(service, agent):
    import requests
    public_id = service.escalate("rated", "P3", text="转人工").ticket.public_id
    service.close(public_id, agent, "resolved")
    bot = service.settings.api_token
    service.create_agent("sue", "correct horse battery", "supervisor")
    with RunningDesk(service) as desk:
        rated = desk.api("POST", "/api/conversations/rated/csat", bot, json={"rating": 2, "comment": "等太久了"})
        assert rated.status_code == 200 and rated.json()["comment"] == "等太久了"
        assert service.metrics()["csat_comments"] == [{"ticket": public_id, "rating": 2, "comment": "等太久了"}]
        browser = requests.Session()
        assert desk.login("sue", "correct horse battery", browser).status_code == 302
        page = browser.get(f"{desk.url}/desk/dashboard", timeout=30).text
        assert 'id="csat-comments"' in page and "等太久了" in page


def test_a_burst_of_escalations_shares_one_capacity_check(service):
    """500 escalations in a flood used to run 500 forecasts; those of the same half second share one."""

    class CountingAlarm(CapacityAlarm):
        checks = 0

        async def check(self, now=None):
            CountingAlarm.checks += 1
            return False

    alarm = CountingAlarm(service, RecordingAlerts(), Notices())

    async def burst():
        first = [alarm.check_soon() for _ in range(50)]
        assert len({id(task) for task in first}) == 1
        await first[0]
        second = alarm.check_soon()  # after the check started: a check of its own
        assert second is not first[0]
        await second

    asyncio.run(burst())
    assert CountingAlarm.checks == 2
