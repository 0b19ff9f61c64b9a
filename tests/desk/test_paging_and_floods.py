"""Items C-F of the desk's security review: the secret badge, paging on-call (raised P1s, retries,
re-pages, bursts) and escalation floods from one client."""

import asyncio
import re
from datetime import datetime, timedelta

import requests
from rasa_sdk import Tracker

from answers.escalation import build_request
from desk.oncall import OnCallAlerts
from desk.paging import Pager
from desk.rasa_client import transcript_lines
from safety.redaction import MARKERS
from tests.desk.webapp import RunningDesk

NOW = datetime(2026, 11, 22, 4, 0)


class RecordingAlerts(OnCallAlerts):
    """The on-call chat as a list: what would have been sent (``fail`` = the Bot API refuses)."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__("http://127.0.0.1:9", "123:token", "-100", "http://desk.example")
        self.sent, self.fail = [], fail

    async def send(self, text: str) -> bool:
        self.sent.append(text)
        return not self.fail


def pager_for(service, alerts):
    return Pager(service, alerts, service.settings)


def page(pager, at):
    return asyncio.run(pager.run_round(now=at))


# ----- C: the secret badge ---------------------------------------------------------
def test_a_ticket_whose_text_hid_a_secret_says_so(service):
    hidden = service.escalate("c-secret", "P1", intent="secret_exposed", text=f"我的助记词 {MARKERS['mnemonic']}", now=NOW)
    plain = service.escalate("c-plain", "P3", text="转人工", now=NOW)
    assert service.get(hidden.ticket.public_id).secret_redacted is True
    assert service.get(plain.ticket.public_id).secret_redacted is False
    service.append_user_message("c-plain", "my key: " + "ab" * 32, now=NOW)
    assert service.get(plain.ticket.public_id).secret_redacted is True


def test_the_transcript_reads_the_channels_secret_flag():
    tracker = {"events": [
        {"event": "user", "text": f"words {MARKERS['mnemonic']}", "metadata": {"secret_redacted": ["mnemonic"]},
         "parse_data": {"intent": {"name": "secret_exposed"}}},
        {"event": "bot", "text": "请立即转移资产"},
        {"event": "user", "text": "转人工", "metadata": {}, "parse_data": {"intent": {"name": "request_human"}}},
    ]}
    assert [line["secret_redacted"] for line in transcript_lines(tracker)] == [True, False, False]


def test_the_badge_is_on_the_ticket_page_and_in_the_api(service, agent):
    flagged = service.escalate("c-secret", "P1", text=f"seed {MARKERS['mnemonic']}", now=NOW).ticket.public_id
    from_transcript = service.escalate("c-later", "P3", text="转人工", now=NOW).ticket.public_id
    token = service.create_api_token("alice", "alice")
    with RunningDesk(service) as desk:
        async def transcript(conversation_id):
            return [{"from": "user", "text": MARKERS["private_key"], "intent": None, "timestamp": 0,
                     "secret_redacted": conversation_id == "c-later"}]
        desk.desk.rasa.transcript = transcript
        assert desk.api("GET", f"/api/tickets/{flagged}", token).json()["secret_redacted"] is True
        assert desk.api("GET", f"/api/tickets/{from_transcript}", token).json()["secret_redacted"] is False
        browser = requests.Session()
        assert desk.login("alice", "correct horse battery", browser).status_code == 302
        for public_id in (flagged, from_transcript):
            html = browser.get(f"{desk.url}/desk/tickets/{public_id}", timeout=30).text
            assert 'id="secret-redacted"' in html and "用户发送过助记词或私钥" in html
        # What the page saw in the transcript is kept on the ticket.
        assert desk.api("GET", f"/api/tickets/{from_transcript}", token).json()["secret_redacted"] is True


# ----- D: pages for raised P1s, retries, re-pages ----------------------------------------
def test_a_ticket_raised_to_p1_by_a_merge_pages_on_call(service):
    alerts = RecordingAlerts()
    pager = pager_for(service, alerts)
    ticket = service.escalate("c1", "P3", intent="request_human", now=NOW).ticket.public_id
    assert page(pager, NOW) == 0 and alerts.sent == []
    service.escalate("c1", "P1", intent="suspected_theft", now=NOW + timedelta(minutes=1))
    assert page(pager, NOW + timedelta(minutes=1)) == 1
    assert ticket in alerts.sent[0] and "P1" in alerts.sent[0]


def test_a_ticket_raised_to_p1_during_the_handoff_pages_on_call(service):
    alerts = RecordingAlerts()
    pager = pager_for(service, alerts)
    ticket = service.escalate("c2", "P3", now=NOW).ticket.public_id
    service.append_user_message("c2", "钱被盗了", intent="suspected_theft", priority="P1", now=NOW + timedelta(minutes=2))
    assert page(pager, NOW + timedelta(minutes=2)) == 1 and ticket in alerts.sent[0]


def test_a_failed_page_is_retried(service):
    alerts = RecordingAlerts(fail=True)
    pager = pager_for(service, alerts)
    ticket = service.escalate("c3", "P1", intent="suspected_theft", now=NOW).ticket.public_id
    assert page(pager, NOW) == 0 and len(alerts.sent) == 1
    alerts.fail = False
    assert page(pager, NOW + timedelta(seconds=5)) == 1
    assert ticket in alerts.sent[1]
    assert page(pager, NOW + timedelta(seconds=90)) == 0  # delivered: not again until the re-page interval


def test_an_unclaimed_p1_pages_again_once_per_interval(service, agent):
    alerts = RecordingAlerts()
    pager = pager_for(service, alerts)
    ticket = service.escalate("c4", "P1", intent="suspected_theft", now=NOW).ticket.public_id
    assert service.settings.oncall_repage_minutes == 10
    rounds = [NOW + timedelta(minutes=m) for m in (0, 5, 9.9, 10, 10.5, 15, 20.1)]
    assert [page(pager, at) for at in rounds] == [1, 0, 0, 1, 0, 0, 1]
    assert all(ticket in text for text in alerts.sent)
    assert "10" in alerts.sent[1]  # says how long it has waited
    service.claim(ticket, agent, now=NOW + timedelta(minutes=21))
    assert page(pager, NOW + timedelta(minutes=40)) == 0


def test_claimed_and_lower_priority_tickets_never_page(service, agent):
    alerts = RecordingAlerts()
    pager = pager_for(service, alerts)
    service.escalate("c5", "P2", now=NOW)
    service.escalate("c6", "P3", now=NOW)
    assert page(pager, NOW + timedelta(hours=3)) == 0


# ----- E: bursts ----------------------------------------------------------------------
def test_a_burst_of_p1s_pages_once_then_once_with_the_count(service):
    alerts = RecordingAlerts()
    pager = pager_for(service, alerts)
    sent = 0
    for i in range(12):
        service.escalate(f"burst-{i}", "P1", intent="suspected_theft", now=NOW + timedelta(seconds=i), client=f"client-{i}")
        sent += page(pager, NOW + timedelta(seconds=i))
    assert sent == 1
    assert page(pager, NOW + timedelta(seconds=59)) == 0
    assert page(pager, NOW + timedelta(seconds=60)) == 1
    assert len(alerts.sent) == 2 and "11 new P1 tickets in the last minute" in alerts.sent[1]
    assert page(pager, NOW + timedelta(seconds=125)) == 0


# ----- F: floods from one client -----------------------------------------------------------
def test_the_escalation_request_carries_the_client_from_the_message_metadata():
    def tracker(metadata):
        return Tracker("conv-9", {}, {"text": "被盗了", "intent": {"name": "suspected_theft"}, "metadata": metadata},
                       [], False, None, {}, "")
    request = build_request(tracker({"client": "c0ffee"}))
    assert request.client == "c0ffee" and request.payload()["client"] == "c0ffee"
    assert build_request(tracker({})).client is None


def test_escalations_over_the_client_limit_are_flagged_and_queued_last(service):
    assert service.settings.escalations_per_client == 5
    for i in range(8):
        service.escalate(f"flood-{i}", "P1", intent="suspected_theft", client="attacker", now=NOW + timedelta(seconds=i))
    service.escalate("victim", "P1", intent="suspected_theft", client="victim-net", now=NOW + timedelta(seconds=9))
    queue = service.queue()
    assert queue[0].conversation_id == "victim" and not queue[0].flagged_flood
    assert all(t.flagged_flood for t in queue[1:]) and len(queue) == 9
    # Another window, another allowance.
    later = service.escalate("flood-later", "P1", client="attacker", now=NOW + timedelta(minutes=11)).ticket
    assert not later.flagged_flood


def test_a_conversation_that_keeps_reopening_tickets_is_flagged(service):
    flags = []
    for i in range(5):
        ticket = service.escalate("looping", "P3", client=None, now=NOW + timedelta(seconds=i)).ticket
        flags.append(ticket.flagged_flood)
        service.cancel_by_user("looping", now=NOW + timedelta(seconds=i))
    assert flags == [False, False, False, True, True]


def test_a_thousand_fake_thefts_from_one_client_neither_bury_the_real_one_nor_flood_on_call(service):
    alerts = RecordingAlerts()
    with RunningDesk(service, alerts=alerts) as desk:
        bot, session = service.settings.api_token, requests.Session()
        session.headers["Authorization"] = f"Bearer {bot}"
        for i in range(1000):
            answer = session.post(f"{desk.url}/api/escalations", timeout=30, json={
                "conversation_id": f"rest:fake-{i}", "priority": "P1", "intent": "suspected_theft", "client": "one-client"})
            assert answer.status_code == 201
        real = session.post(f"{desk.url}/api/escalations", timeout=30, json={
            "conversation_id": "rest:victim", "priority": "P1", "intent": "suspected_theft", "client": "other-client"})
        assert real.status_code == 201 and real.json()["ticket"]["flagged_flood"] is False
        ops = service.create_api_token("ops")
        queue = desk.api("GET", "/api/tickets?status=open", ops).json()["tickets"]
        assert len(queue) == 1001 and queue[0]["conversation_id"] == "rest:victim"
        assert sum(t["flagged_flood"] for t in queue) == 1000
        # The next round after the coalescing window pages the real one.
        asyncio.run_coroutine_threadsafe(desk.desk.pager.run_round(now=datetime.utcnow() + timedelta(seconds=61)),
                                         desk._loop).result(30)
    assert 1 <= len(alerts.sent) <= 3, alerts.sent
    assert any(real.json()["ticket"]["id"] in text for text in alerts.sent)
    assert not any(re.search(r"\b(1000|999)\b", text) for text in alerts.sent)
