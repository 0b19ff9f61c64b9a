"""The bad-input corpus through the REST channel: no 5xx, no silence, no crash."""

import pytest
import requests

from tests.bad_inputs import corpus

pytestmark = pytest.mark.timeout(900)


def test_the_corpus_is_big_enough():
    assert len(corpus()) >= 200


def test_every_odd_message_gets_an_answer_and_the_servers_survive(stack):
    problems = []
    for number, message in enumerate(corpus()):
        reply = requests.post(
            f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": f"bad-{number}", "message": message}, timeout=60
        )
        if reply.status_code >= 500:
            problems.append((message, reply.status_code))
        elif reply.status_code == 200 and not any(r.get("text") for r in reply.json()):
            problems.append((message, "silence"))
        elif 400 <= reply.status_code < 500 and not reply.json().get("error"):
            problems.append((message, "4xx without a reason"))
    assert not problems, problems[:10]
    assert all(p.poll() is None for p in stack.processes), stack.logs()
