import asyncio

import pytest

from actions.transfer_details import ValidateTransferDetailsForm, chain_answer, tx_hash_answer

HASH = "7c2d" + "ab" * 30


@pytest.mark.parametrize("text, entity, expected", [
    ("TRON", "TRON", "TRON"), ("跳过", None, "unknown"), ("skip", None, "unknown"), ("好像是波场吧", None, "好像是波场吧"), ("", None, None),
])
def test_chain_answers(text, entity, expected):
    assert chain_answer(text, entity) == expected


@pytest.mark.parametrize("text, expected", [
    (f"哈希 {HASH}", HASH), (f"TxID: 0x{HASH}", "0x" + HASH), ("不知道", "unknown"), ("在这里 12345", None),
])
def test_tx_hash_answers(text, expected):
    assert tx_hash_answer(text) == expected


def form_tracker(make_tracker, text, intent, requested, slots):
    tracker = make_tracker((text, intent), slots={"requested_slot": requested, **slots})
    return tracker


def test_an_unrecognised_hash_is_asked_again(make_tracker, dispatcher, domain):
    tracker = form_tracker(make_tracker, "就是那个", "nlu_fallback", "tx_hash", {"tx_hash": "就是那个"})
    events = asyncio.run(ValidateTransferDetailsForm().run(dispatcher, tracker, domain))
    assert events == [{"event": "slot", "name": "tx_hash", "value": None, "timestamp": None}]
    assert dispatcher.messages[0]["response"] == "utter_tx_hash_not_recognised"
