"""A seed phrase pasted over several messages of one conversation is caught at the gate."""

import asyncio

from tests.seeds import mnemonic
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from channels.input_gate import SECRET_METADATA_KEY, SeedTails, gated, seed_tails
from safety.redaction import MARKERS, SEED_CONTINUED_METADATA_KEY


def send(texts, sender="seed-tail-user", channel="rest"):
    seed_tails.clear()
    received = []

    async def on_new_message(msg):
        received.append(msg)

    async def run():
        handle = gated(on_new_message)
        for text in texts:
            await handle(UserMessage(text, CollectingOutputChannel(), sender, input_channel=channel))

    asyncio.run(run())
    return received


def flagged(message):
    return (message.metadata or {}).get(SECRET_METADATA_KEY) == ["mnemonic"]


def test_english_six_plus_six_across_two_messages():
    words = mnemonic("english").split()
    first, second = send([" ".join(words[:6]), " ".join(words[6:])])
    for message, part in ((first, words[:6]), (second, words[6:])):
        assert message.text == MARKERS["mnemonic"] and flagged(message)
        assert not any(w in message.text for w in part)


def test_english_four_plus_four_plus_four_across_three_messages():
    words = mnemonic("english").split()
    first, second, third = send([" ".join(words[:4]), " ".join(words[4:8]), " ".join(words[8:])])
    # The first part is stored before the rest arrives: four random word-list words that are the whole
    # message are hidden on their own (safety.redaction.MIN_BARE_WORDS); the later ones join it.
    for message in (first, second, third):
        assert message.text == MARKERS["mnemonic"] and flagged(message)


def test_chinese_six_plus_six_across_two_messages():
    for language in ("chinese_simplified", "chinese_traditional"):
        chars = mnemonic(language).split()
        # unspaced: the second half completes a checksum-valid phrase
        _, second = send(["".join(chars[:6]), "".join(chars[6:])])
        assert second.text == MARKERS["mnemonic"] and flagged(second)
        # one character at a time: each half is already a partial seed
        first, second = send([" ".join(chars[:6]), "，".join(chars[6:])])
        assert first.text == second.text == MARKERS["mnemonic"] and flagged(first) and flagged(second)


def test_numbered_halves_across_messages():
    words = mnemonic("english").split()
    # Two words alone say nothing: the second part is hidden because it continues the first.
    texts = ["\n".join(f"{i + 1}. {w}" for i, w in enumerate(words[:4])),
             "\n".join(f"{i + 5}) {w.capitalize()}" for i, w in enumerate(words[4:6]))]
    first, second = send(texts)
    assert flagged(first) and flagged(second)
    assert not any(w.capitalize() in second.text for w in words[4:6])


def test_other_conversations_and_ordinary_messages_are_untouched():
    words = mnemonic("english").split()
    # After other words, four word-list words are not the whole message, and two alone say nothing:
    # each is kept, and "b"'s two do not continue "a"'s four.
    received = send(["ok " + " ".join(words[:4])], sender="a") + send([" ".join(words[4:6])], sender="b")
    assert [m.text for m in received] == ["ok " + " ".join(words[:4]), " ".join(words[4:6])]
    texts = ["I want to transfer my token", "to another wallet please help", "怎么创建钱包", "thank you"]
    assert [m.text for m in send(texts)] == texts


def test_the_tails_are_bounded_and_expire():
    now = [0.0]
    tails = SeedTails(max_conversations=2, ttl_seconds=60, clock=lambda: now[0])
    words = mnemonic("english").split()
    for sender in "abc":
        assert not tails.redact(("rest", sender), "ok " + " ".join(words[:4])).found
    assert len(tails) == 2
    assert not tails.redact(("rest", "a"), " ".join(words[4:6])).found  # "a" was dropped
    assert tails.redact(("rest", "c"), " ".join(words[4:6])).found
    now[0] = 1000.0
    assert not tails.redact(("rest", "c"), " ".join(words[6:8])).found  # expired


def rest_poster(sender):
    """A function posting one text as ``sender`` the way RestInput.receive reads a request and hands the
    message on through the gate, and the list the messages arrive in."""
    from types import SimpleNamespace

    from channels.rest import GatedRestInput

    seed_tails.clear()
    channel, received = GatedRestInput(), []

    async def on_new_message(msg):
        received.append(msg)

    async def post(text):
        request = SimpleNamespace(json={"sender": sender, "message": text})
        message = UserMessage(channel._extract_message(request), CollectingOutputChannel(),
                              await channel._extract_sender(request),
                              input_channel=channel._extract_input_channel(request))
        await gated(on_new_message)(message)

    return post, received


def test_halves_posted_to_the_rest_channel_are_joined():
    """The REST channel cleans the text as it reads the request, before the gate: the first half,
    hidden there already, must still leave its words for the second half to join (it did not: the
    second half of a phrase of everyday words was stored in clear)."""
    post, received = rest_poster("rest-halves")
    phrase = "where help course devote enrich rifle because truth opinion only such place".split()
    asyncio.run(post(" ".join(phrase[:6])))
    asyncio.run(post(" ".join(phrase[6:])))
    assert [m.text for m in received] == [MARKERS["mnemonic"]] * 2 and all(flagged(m) for m in received)
    # A second pass over an already cleaned text keeps the conversation's tail: a third part still joins.
    words = mnemonic("english").split()
    received.clear()
    for part in (words[:4], words[4:8], words[8:]):
        asyncio.run(post(" ".join(part)))
    assert [m.text for m in received][1:] == [MARKERS["mnemonic"]] * 2


def continues(message):
    return bool((message.metadata or {}).get(SEED_CONTINUED_METADATA_KEY))


def test_a_message_that_continues_the_last_one_into_a_seed_is_flagged_for_the_store():
    """Two words alone say nothing and are stored as they are; the message that continues them into a
    seed is flagged, so that the tracker store hides them (tests/unit/test_tracker_store.py)."""
    words = mnemonic("english").split()
    first, second, third = send([" ".join(words[:2]), " ".join(words[2:8]), " ".join(words[8:])])
    assert first.text == " ".join(words[:2]) and not continues(first)
    assert second.text == MARKERS["mnemonic"] and continues(second) and flagged(second)
    assert third.text == MARKERS["mnemonic"] and continues(third)
    ordinary = send(["thank you", "I want to transfer my token"])
    assert not any(continues(m) for m in ordinary)


def test_the_continuation_flag_survives_the_rest_channels_second_pass():
    post, received = rest_poster("rest-continued")
    words = mnemonic("english").split()
    asyncio.run(post(" ".join(words[:2])))
    asyncio.run(post(" ".join(words[2:12])))
    assert received[1].text == MARKERS["mnemonic"] and continues(received[1])
