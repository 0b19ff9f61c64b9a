"""What the gateway sends the action server: no call for the actions it runs itself, the domain once.

The upstream here is a recording stand-in that keeps domains by digest as the real
action server does (``answers.domain_digest.KnownDomains``); ``tests/actions/test_domain_digest.py``
checks the real action server's side.
"""

import asyncio
from typing import Any, Dict, List

from aiohttp import web

from answers.domain_digest import DIGEST_KEY, UNKNOWN_DIGEST, KnownDomains
from tests.rasa_server.gateway_upstream import gateway_to

DOMAIN = {"responses": {"utter_x": [{"text": "x", "metadata": {"lang": "zh"}}]}, "intents": ["greet"], "slots": {}}


class Upstream:
    """Records every call's body; knows domains by digest until it "restarts"."""

    def __init__(self) -> None:
        self.bodies: List[Dict[str, Any]] = []
        self.domains = KnownDomains()

    async def handler(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(dict(body))
        problem = self.domains.restore(body)
        if problem is not None:
            return web.json_response({"error": problem}, status=409)
        return web.json_response({"events": [], "responses": [{"text": f"domain has {sorted(body['domain'])}"}]})


async def with_gateway(upstream: Upstream, tmp_path, calls):
    async with gateway_to(upstream.handler, tmp_path) as gateway:
        return [await gateway.run(body) for body in calls(upstream)], gateway


def escalate(sender: str) -> Dict[str, Any]:
    return {"next_action": "action_escalate", "sender_id": sender, "tracker": {"sender_id": sender, "events": []},
            "domain": DOMAIN, "version": "3.6.21"}


def test_the_domain_goes_once_and_again_after_the_action_server_restarts(tmp_path):
    def calls(upstream):
        yield escalate("u1")
        yield escalate("u2")
        upstream.domains = KnownDomains()  # the action server restarted: it knows no domain
        yield escalate("u3")
        yield escalate("u4")

    answers, gateway = asyncio.run(with_gateway(upstream := Upstream(), tmp_path, calls))
    assert [status for status, _ in answers] == [200, 200, 200, 200]
    # every answer was made with the whole domain, whether or not it travelled
    assert len({answer["responses"][0]["text"] for _, answer in answers}) == 1
    sent = [("domain" in body, body[DIGEST_KEY] is not None) for body in upstream.bodies]
    # u1 with it, u2 without, u3 without (refused 409) and again with it, u4 without
    assert sent == [(True, True), (False, True), (False, True), (True, True), (False, True)]
    assert gateway.failures == 0


def test_a_domain_the_action_server_does_not_know_is_never_left_out(tmp_path):
    other = {**DOMAIN, "intents": ["greet", "goodbye"]}

    def calls(_upstream):
        yield escalate("u1")
        yield {**escalate("u2"), "domain": other}  # another model was loaded

    answers, _gateway = asyncio.run(with_gateway(upstream := Upstream(), tmp_path, calls))
    assert [status for status, _ in answers] == [200, 200]
    assert ["domain" in body for body in upstream.bodies] == [True, True]
    assert upstream.bodies[0][DIGEST_KEY] != upstream.bodies[1][DIGEST_KEY]


def test_the_handoff_loop_after_an_escalation_is_answered_in_this_process(tmp_path):
    """The loop's relay and its empty question used to be two calls with the whole tracker each."""
    user = {"event": "user", "text": "转人工", "parse_data": {"intent": {"name": "request_human", "confidence": 1.0}}}
    tracker = {"sender_id": "u1", "slots": {"handoff_message": None}, "latest_message": user["parse_data"] | {"text": "转人工"},
               "events": [user, {"event": "action", "name": "action_escalate"}], "active_loop": {},
               "latest_action_name": "action_escalate"}

    def calls(_upstream):
        for name in ("validate_handoff_form", "action_ask_handoff_message"):
            yield {"next_action": name, "sender_id": "u1", "tracker": tracker, "domain": DOMAIN, "version": "3.6.21"}

    answers, gateway = asyncio.run(with_gateway(upstream := Upstream(), tmp_path, calls))
    assert upstream.bodies == [] and gateway.failures == 0
    (status1, relay), (status2, ask) = answers
    assert status1 == status2 == 200
    assert [(e["event"], e["name"], e["value"]) for e in relay["events"]] == [("slot", "handoff_message", None)]
    assert ask == {"events": [], "responses": []}


def test_an_unknown_digest_is_refused_not_guessed():
    known = KnownDomains()
    assert known.restore({DIGEST_KEY: "0" * 64}) == UNKNOWN_DIGEST
