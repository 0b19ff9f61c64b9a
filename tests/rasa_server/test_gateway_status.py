"""Only a 400 from the action server is a form rejection; any other 4xx gets the fallback answer.

Rasa treats only 400 as a rejection: a 401 after a token rotation, or a 404,
passed through, left the user in silence.
"""

import asyncio

from aiohttp import web

from tests.rasa_server.gateway_upstream import gateway_to


class RecordingFallback:
    def __init__(self):
        self.calls = 0

    async def answer(self, body):
        self.calls += 1
        return {"events": [], "responses": [{"response": "utter_temporarily_unavailable"}]}


async def gateway_answer(status: int, tmp_path):
    async def handler(request):
        return web.json_response({"error": "x"}, status=status)

    async with gateway_to(handler, tmp_path) as gateway:
        gateway.fallback = RecordingFallback()
        return await gateway.run({"next_action": "action_escalate", "sender_id": "u1", "tracker": {}, "domain": {}}), gateway


def test_a_400_is_passed_through_as_a_rejection(tmp_path):
    (status, _answer), gateway = asyncio.run(gateway_answer(400, tmp_path))
    assert status == 400 and gateway.fallback.calls == 0


def test_401_403_404_and_422_get_the_fallback_answer(tmp_path):
    for code in (401, 403, 404, 422):
        (status, answer), gateway = asyncio.run(gateway_answer(code, tmp_path))
        assert status == 200 and gateway.fallback.calls == 1, code
        assert answer["responses"]
