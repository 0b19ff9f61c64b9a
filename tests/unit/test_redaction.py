"""Secrets are found in every form users paste them; ordinary sentences are left alone."""

import json
import os
from hashlib import sha256

import pytest
from mnemonic import Mnemonic
from rasa.shared.nlu.training_data.loading import load_data

from tests.conftest import PROJECT_ROOT
from safety.redaction import MARKERS, find_secrets, redact

LANGUAGES = ("english", "chinese_simplified", "chinese_traditional")
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def fresh_mnemonic(language, strength):
    return Mnemonic(language).generate(strength).split(" ")


def pasted_forms(words):
    """How people paste a phrase: spaced, unspaced, numbered, one per line, inside a sentence."""
    return {
        "spaced": " ".join(words),
        "unspaced": "".join(words),
        "numbered": " ".join(f"{i + 1}.{w}" for i, w in enumerate(words)),
        "lines": "\n".join(words),
        "commas": "，".join(words),
        "in a sentence": f"我的助记词是 {' '.join(words)} 为什么转不出去",
    }


def no_run_of_four(words, text):
    """No 4 consecutive mnemonic words survive, spaced or not."""
    for i in range(len(words) - 3):
        chunk = words[i:i + 4]
        if " ".join(chunk) in text or "".join(chunk) in text:
            return False
    return True


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("strength", [128, 256])  # 12 and 24 words
def test_fresh_mnemonics_are_hidden_in_every_pasted_form(language, strength):
    for _ in range(10):
        words = fresh_mnemonic(language, strength)
        for form, text in pasted_forms(words).items():
            result = redact(text)
            assert result.kinds == {"mnemonic"}, (form, text)
            assert no_run_of_four(words, result.text), (form, result.text)
            assert MARKERS["mnemonic"] in result.text


def test_a_valid_phrase_pasted_unspaced_is_hidden_even_when_half_its_words_are_everyday_english():
    # A fresh draw a CI run found: spaced, the checksum caught it; unspaced, only the everyday-English
    # test decided, and half the words (where, help, because, only, such, place) read as prose.
    words = "where help course devote enrich rifle because truth opinion only such place".split()
    assert Mnemonic("english").check(" ".join(words))
    result = redact("".join(words))
    assert result.kinds == {"mnemonic"} and no_run_of_four(words, result.text)


# Generated phrases whose characters happen to read half as words ("点灯", "景观", "或"): about 1 draw
# in 2,000, found by a CI run that pasted fresh phrases. The checksum-valid whole message is a phrase.
UNLUCKY_DRAWS = ["在伯什所袖厘升盆植晚罪训", "下拨尝递胁读两尺任返反吹", "能践礼险缓法暴或点灯景观",
                 "薯沈吞抓手晨間增雨蘇仇含", "吊取助焦外伸縮鐵騎步署框"]


@pytest.mark.parametrize("text", UNLUCKY_DRAWS)
def test_phrases_that_read_half_as_words_are_hidden_when_pasted_alone(text):
    assert redact(text).text == MARKERS["mnemonic"]


def test_the_rest_of_the_message_is_kept():
    words = fresh_mnemonic("english", 128)
    result = redact(f"help, my seed is {' '.join(words)} and my USDT is gone")
    assert result.text.startswith("help, my seed is ")
    assert result.text.endswith(" and my USDT is gone")


def test_raw_private_keys_are_hidden():
    key = os.urandom(32).hex()
    for text in (key, "私钥 " + key, "private key: 0x" + key, "我导出的密钥是" + key.upper()):
        result = redact(text)
        assert result.kinds == {"private_key"} and key not in result.text.lower(), text


def test_a_transaction_hash_with_its_context_is_kept():
    tx = "0x" + os.urandom(32).hex()
    for text in (f"转账一直pending，哈希 {tx}", f"这笔{tx[2:]}一直没确认", tx):
        assert redact(text).text == text


def wif(key: bytes) -> str:
    payload = b"\x80" + key + b"\x01"
    raw = payload + sha256(sha256(payload).digest()).digest()[:4]
    number, out = int.from_bytes(raw, "big"), ""
    while number:
        number, rem = divmod(number, 58)
        out = BASE58[rem] + out
    return out


def test_wif_keys_are_hidden_and_lookalikes_are_not():
    key = wif(os.urandom(32))
    assert redact(f"my btc key {key}").kinds == {"private_key"}
    lookalike = "K" + key[1:-1] + ("2" if key[-1] != "2" else "3")  # checksum broken
    assert not find_secrets(lookalike)


def test_keystore_json_is_hidden_even_when_truncated():
    keystore = json.dumps({"version": 3, "id": "x", "address": "ab" * 20,
                           "crypto": {"ciphertext": "cd" * 32, "kdf": "scrypt"}})
    result = redact(f"这是我的keystore {keystore} 能帮我恢复吗")
    assert result.kinds == {"keystore"} and "ciphertext" not in result.text and result.text.endswith("能帮我恢复吗")
    assert "ciphertext" not in redact(keystore[:60]).text


def ordinary_sentences():
    """Every training example, the synthetic holdout and real users' held-out messages (scripts/real_split.py
    drops a real message the redactor would change: the bot would never see it as written)."""
    from bench.nlu_real import load_heldout

    data = load_data(str(PROJECT_ROOT / "data/nlu"))
    holdout = load_data(str(PROJECT_ROOT / "tests/nlu/holdout.yml"))
    return [m.get("text") for m in data.intent_examples + holdout.intent_examples] + [
        example.text for example in load_heldout()]


def test_ordinary_support_sentences_are_never_redacted():
    sentences = ordinary_sentences()
    assert len(sentences) >= 300
    changed = [s for s in sentences if redact(s).text != s]
    assert changed == []


@pytest.mark.parametrize("text", ["", "🙂", "   ", "\x00", "a" * 100_000, "的" * 5000])
def test_odd_input_does_not_crash(text):
    assert isinstance(redact(text).text, str)
