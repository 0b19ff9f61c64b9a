"""What may be the first part of a seed phrase pasted in parts never reaches a log record.

The end-to-end check (a real Rasa server at DEBUG) is in tests/test_secrets_end_to_end.py.
"""

from __future__ import annotations

import logging

import pytest
from mnemonic import Mnemonic

from channels.input_gate import clean_text, seed_tails
from safety import log_masks as module
from safety.log_masks import MARKER, LogMasks
from safety.redaction import possible_seed_start


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def recorded(caplog):
    """A fresh registry behind the process's record factory; the factory is put back afterwards."""
    previous = logging.getLogRecordFactory()
    masks = LogMasks()
    module.install(masks)
    caplog.set_level(logging.DEBUG)
    yield masks, caplog
    logging.setLogRecordFactory(previous)


def test_a_registered_text_is_hidden_in_every_record_written_after(recorded) -> None:
    masks, caplog = recorded
    masks.add("abandon ability")
    logging.getLogger("rasa.core.processor").debug("Received user message '%s' with intent", "abandon ability")
    logging.getLogger("anything").warning("parse data %s", {"text": "Abandon Ability"})
    text = caplog.text
    assert "abandon" not in text.lower() and text.count(MARKER) == 2, text


def test_chinese_words_are_hidden_in_json_escaped_dumps_too(recorded) -> None:
    import json

    masks, caplog = recorded
    masks.add("的 一 是")
    logging.getLogger("rasa").debug("parsed %s", json.dumps({"text": "的 一 是"}))
    assert "\\u7684" not in caplog.text and MARKER in caplog.text


def test_masks_expire_with_the_wait_for_a_continuation_and_stay_bounded() -> None:
    clock = Clock()
    masks = LogMasks(ttl_seconds=300, max_entries=4, clock=clock)
    masks.add("abandon ability")
    clock.now = 299
    assert masks.mask("x abandon ability") == f"x {MARKER}"
    clock.now = 301
    assert masks.mask("x abandon ability") == "x abandon ability" and len(masks) == 0
    for number in range(10):
        masks.add(f"word{number} word{number}")
    assert len(masks) == 4


def test_install_is_idempotent_and_ordinary_records_are_untouched(recorded) -> None:
    masks, caplog = recorded
    factory = logging.getLogRecordFactory()
    module.install(masks)
    assert logging.getLogRecordFactory() is factory
    logging.getLogger("x").info("ticket %s opened", "T-1")
    assert "ticket T-1 opened" in caplog.text


def test_the_gate_registers_a_possible_first_part_and_not_a_sentence() -> None:
    words = Mnemonic("english").generate(128).split(" ")
    assert possible_seed_start(" ".join(words[:2])) == " ".join(words[:2])
    assert possible_seed_start(f"my funds are gone {words[0]}") is None  # one word joins nothing
    assert possible_seed_start("我的钱包被盗了") is None

    seed_tails.clear()
    registry = module.log_masks
    registry.clear()
    clean_text(" ".join(words[:2]), ("rest", "log-mask-user"))
    assert registry.mask(f"Received user message '{' '.join(words[:2])}'") == f"Received user message '{MARKER}'"
    registry.clear()
    seed_tails.clear()
