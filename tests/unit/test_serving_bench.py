"""The serving benchmark's real-words scenario sends each real message once, and they are all different."""

import asyncio
from collections import Counter

from aiohttp import web

from bench import serving_bench
from safety.text import detect_language
from tests.http_standin import serving


def test_real_words_are_different_messages_in_both_languages() -> None:
    texts = serving_bench.real_words(300)
    assert len(texts) == 300 == len(set(texts))
    assert {detect_language(text) for text in texts} >= {"zh", "en"}
    assert texts == serving_bench.real_words(300)  # the same sample every run


def test_load_sends_every_given_text_exactly_once() -> None:
    received: Counter = Counter()

    async def webhook(request: web.Request) -> web.Response:
        received[(await request.json())["message"]] += 1
        return web.json_response([{"recipient_id": "x", "text": "ok"}])

    async def scenario() -> dict:
        async with serving("/webhooks/rest/webhook", webhook) as url:
            return await serving_bench.load(url, 8, 50, texts=[f"message {n}" for n in range(50)])

    result = asyncio.run(scenario())
    assert result["messages"] == 50 and result["failed"] == 0
    assert received == Counter({f"message {n}": 1 for n in range(50)})
