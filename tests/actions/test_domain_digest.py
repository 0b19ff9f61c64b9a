"""The real action server keeps the domain it was sent and puts it back into calls that name it by digest."""

import uuid

import requests

from answers.domain_digest import DIGEST_KEY, UNKNOWN_DIGEST, KnownDomains, domain_digest
from tests.actions.test_clarify import RANKING


def call_clarify(stack, tracker, domain=None, digest=None):
    body = {"next_action": "action_clarify", "sender_id": tracker.sender_id, "tracker": tracker.current_state(),
            "version": "3.6.21"}
    if domain is not None:
        body["domain"] = domain
    if digest is not None:
        body[DIGEST_KEY] = digest
    return requests.post(f"{stack.actions_url}/webhook", params={"token": stack.action_token}, json=body, timeout=30)


def test_a_domain_named_by_digest_gives_the_same_answer_as_the_domain_itself(stack, make_tracker, domain):
    tracker = make_tracker(("转不出去怎么回事啊", "nlu_fallback", RANKING))
    mine = {**domain, "x_test_marker": uuid.uuid4().hex}  # a domain this action server has never seen
    digest = domain_digest(mine)
    before = call_clarify(stack, tracker, digest=digest)
    assert before.status_code == 409 and before.json()["error"] == UNKNOWN_DIGEST
    full = call_clarify(stack, tracker, domain=mine, digest=digest)
    by_digest = call_clarify(stack, tracker, digest=digest)
    plain = call_clarify(stack, tracker, domain=mine)  # stock Rasa's call, no digest
    assert full.status_code == by_digest.status_code == plain.status_code == 200
    assert by_digest.json() == full.json() == plain.json()
    titles = [b["title"] for b in by_digest.json()["responses"][0]["buttons"]]
    assert titles[0] == "转账一直未确认"  # read from the domain's curated texts


def test_a_digest_that_is_not_the_domains_is_refused(stack, make_tracker, domain):
    tracker = make_tracker(("转不出去怎么回事啊", "nlu_fallback", RANKING))
    answer = call_clarify(stack, tracker, domain={**domain, "x_test_marker": uuid.uuid4().hex}, digest="0" * 64)
    assert answer.status_code == 400 and "does not match" in answer.json()["error"]


def test_the_action_server_keeps_only_the_newest_domains():
    known = KnownDomains(size=2)
    domains = [{"intents": [f"i{n}"]} for n in range(3)]
    for d in domains:
        assert known.restore({"domain": d, DIGEST_KEY: domain_digest(d)}) is None
    assert known.restore({DIGEST_KEY: domain_digest(domains[0])}) == UNKNOWN_DIGEST
    call = {DIGEST_KEY: domain_digest(domains[2])}
    assert known.restore(call) is None and call["domain"] is domains[2]
    assert known.restore({"domain": domains[0]}) is None  # no digest: left alone
