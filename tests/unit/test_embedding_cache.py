"""Training embeddings come from the disk cache when a retraining has them, and nothing else changes.

A stand-in encoder counts the texts it is given, so each test shows which texts were encoded;
`tests/unit/test_sentence_encoder.py` covers the real encoder's arithmetic.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import List, Sequence

import numpy as np
import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.embedding_cache import EmbeddingCache, entry_key
from nlu.sentence_features import EnglishSentenceFeaturizer

ENGLISH = ["my funds were stolen", "the transfer is stuck", "how do I back up my wallet", "the app crashes"]


class CountingEncoder:
    """A deterministic 4-wide embedding per text, and a record of every text encoded."""

    width = 4

    def __init__(self, fingerprint: str = "weights-a") -> None:
        self.fingerprint = fingerprint
        self.encoded: List[str] = []

    def encode(self, texts: Sequence[str], workers: int = 0) -> np.ndarray:
        self.encoded.extend(texts)
        rows = [np.frombuffer(hashlib.sha256((self.fingerprint + t).encode()).digest()[:16], dtype=np.float32)
                for t in texts]
        return np.vstack(rows) if rows else np.zeros((0, self.width), dtype=np.float32)


def train(encoder: CountingEncoder, texts: List[str], cache: object) -> List[np.ndarray]:
    featurizer = EnglishSentenceFeaturizer({"training_cache": cache}, "sentence", encoder)
    data = featurizer.process_training_data(TrainingData([Message({TEXT: t, "intent": "x"}) for t in texts]))
    return [e.get_dense_features(TEXT)[1].features[0] for e in data.training_examples]


def test_a_retraining_encodes_only_the_texts_it_added(tmp_path: Path) -> None:
    cache = str(tmp_path / "embeddings.sqlite")
    first = CountingEncoder()
    before = train(first, ENGLISH, cache)
    assert first.encoded == ENGLISH

    again = CountingEncoder()  # a new process: nothing in memory
    after = train(again, ENGLISH + ["a transaction I never made"], cache)
    assert again.encoded == ["a transaction I never made"]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)
    uncached = train(CountingEncoder(), ENGLISH + ["a transaction I never made"], None)
    for cached, plain in zip(after, uncached):
        np.testing.assert_array_equal(cached, plain)


def test_other_weights_or_code_never_read_an_old_embedding(tmp_path: Path) -> None:
    cache = str(tmp_path / "embeddings.sqlite")
    train(CountingEncoder("weights-a"), ENGLISH, cache)
    other = CountingEncoder("weights-b")
    train(other, ENGLISH, cache)
    assert other.encoded == ENGLISH


def test_the_cache_keeps_no_text(tmp_path: Path) -> None:
    cache = tmp_path / "embeddings.sqlite"
    train(CountingEncoder(), ENGLISH, str(cache))
    stored = cache.read_bytes()
    assert cache.stat().st_size > 0
    assert not [t for t in ENGLISH if t.encode() in stored or t.split()[-1].encode() in stored]
    assert EmbeddingCache(cache, 4).get_many([entry_key("weights-a", ENGLISH[0])])


def test_a_broken_or_unwritable_cache_costs_time_not_the_training(tmp_path: Path, caplog) -> None:
    broken = tmp_path / "embeddings.sqlite"
    broken.write_bytes(b"not a database" * 100)
    encoder = CountingEncoder()
    with caplog.at_level(logging.WARNING):
        features = train(encoder, ENGLISH, str(broken))
    assert encoder.encoded == ENGLISH and len(features) == len(ENGLISH)
    assert "unreadable" in caplog.text

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    encoder = CountingEncoder()
    assert len(train(encoder, ENGLISH, str(blocked / "embeddings.sqlite"))) == len(ENGLISH)
    assert encoder.encoded == ENGLISH


@pytest.mark.parametrize("cache", [None, ""])
def test_no_cache_configured_writes_nothing(tmp_path: Path, monkeypatch, cache: object) -> None:
    monkeypatch.chdir(tmp_path)
    encoder = CountingEncoder()
    train(encoder, ENGLISH, cache)
    assert encoder.encoded == ENGLISH
    assert not list(tmp_path.iterdir())
