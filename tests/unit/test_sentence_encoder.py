"""The NumPy sentence encoder gives the embeddings the reference implementation gives, and the featurizer
feeds it English messages only.

The reference (tests/unit/data/minilm_reference.json) was computed with transformers/PyTorch from the same
model files (tests/unit/data/minilm_reference.py). The model directory is unpacked by `make train`
(scripts/sentence_model.sh).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nlu.sentence_encoder import MAX_TOKENS, SentenceEncoder, WordPieceTokenizer

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "var/sentence/all-minilm-l6-v2"
REFERENCE = json.loads((Path(__file__).parent / "data/minilm_reference.json").read_text(encoding="utf-8"))


def alone(encoder: SentenceEncoder, text: str) -> np.ndarray:
    """``text``'s embedding from a pass of its own: what packed passes must reproduce."""
    return encoder.encode([text], workers=1)[0]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    if not (MODEL_DIR / "model.safetensors").is_file():
        pytest.fail(f"{MODEL_DIR} is missing: run `bash scripts/sentence_model.sh` (part of `make train`)")
    return SentenceEncoder(MODEL_DIR)


@pytest.mark.parametrize("case", REFERENCE, ids=lambda case: case["text"][:30])
def test_token_ids_match_the_reference_tokenizer(encoder: SentenceEncoder, case: dict) -> None:
    assert encoder.tokenizer.ids(case["text"]) == case["ids"]


@pytest.mark.parametrize("case", REFERENCE, ids=lambda case: case["text"][:30])
def test_embedding_matches_the_reference(encoder: SentenceEncoder, case: dict) -> None:
    embedding = alone(encoder, case["text"])
    assert embedding.shape == (384,)
    np.testing.assert_allclose(embedding, np.asarray(case["embedding"]), atol=1e-5)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_batch_of_different_lengths_equals_one_at_a_time(encoder: SentenceEncoder, workers: int) -> None:
    from threadpoolctl import threadpool_info

    blas_threads = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    texts = [case["text"] for case in REFERENCE] + ["ok", "stolen"] * 3
    batch = encoder.encode(texts, workers=workers)
    assert batch.shape == (len(texts), encoder.width)
    for text, row in zip(texts, batch):
        np.testing.assert_allclose(row, alone(encoder, text), atol=1e-5)
    # The one-thread limit of a pass is lifted afterwards: the process's other BLAS work keeps its threads.
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == blas_threads


def test_the_featurizer_gives_training_data_the_embeddings_it_gives_messages(encoder: SentenceEncoder) -> None:
    from rasa.shared.nlu.constants import INTENT, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from nlu.sentence_features import EnglishSentenceFeaturizer

    featurizer = EnglishSentenceFeaturizer({"model_dir": str(MODEL_DIR)}, "sentence", encoder)
    texts = ["my funds are gone", "钱包被盗了", "my funds are gone", "the app crashes on start"]
    data = TrainingData([Message(data={TEXT: t, INTENT: "x"}) for t in texts])
    featurizer.process_training_data(data)
    for example in data.training_examples:
        _, sentence = example.get_dense_features(TEXT)
        if example.get(TEXT) == "钱包被盗了":
            assert sentence is None
        else:
            np.testing.assert_allclose(sentence.features[0], alone(encoder, example.get(TEXT)), atol=1e-6)


def test_similar_meanings_are_closer_than_different_ones(encoder: SentenceEncoder) -> None:
    drained, robbed, create = encoder.encode(["they cleaned out my wallet", "someone stole all my funds",
                                              "how do I make a new wallet"])
    assert float(drained @ robbed) > float(drained @ create) + 0.1


def test_long_messages_are_cut_at_the_models_limit(encoder: SentenceEncoder) -> None:
    ids = encoder.tokenizer.ids("word " * 1000)
    assert len(ids) == MAX_TOKENS and ids[0] == encoder.tokenizer.cls and ids[-1] == encoder.tokenizer.sep


def test_basic_tokens_split_punctuation_and_chinese_and_drop_accents() -> None:
    assert WordPieceTokenizer.basic_tokens("Héllo,世界!  OK") == ["hello", ",", "世", "界", "!", "ok"]


def test_featurizer_embeds_english_and_skips_chinese_and_empty(encoder: SentenceEncoder) -> None:
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message

    from nlu.sentence_features import EnglishSentenceFeaturizer

    featurizer = EnglishSentenceFeaturizer({"model_dir": str(MODEL_DIR)}, "sentence", encoder)
    english, chinese, mixed, empty = (Message(data={TEXT: t}) for t in
                                      ("my funds are gone", "钱包被盗了", "我的usdt一直pending", " "))
    featurizer.process([english, chinese, mixed, empty])
    _, sentence = english.get_dense_features(TEXT)
    np.testing.assert_allclose(sentence.features[0], alone(encoder, "my funds are gone"), atol=1e-6)
    for message in (chinese, mixed, empty):
        assert message.get_dense_features(TEXT) == (None, None)


def test_featurizer_reports_a_missing_model_directory(tmp_path: Path) -> None:
    from rasa.shared.exceptions import InvalidConfigException

    from nlu.sentence_features import load_encoder

    with pytest.raises(InvalidConfigException, match="sentence_model.sh"):
        load_encoder(str(tmp_path / "nowhere"))


def test_texts_packed_into_one_pass_match_the_reference(encoder: SentenceEncoder) -> None:
    """encode() stacks several texts' tokens in one pass: each row must still be that text's own embedding."""
    texts = ["ok"] + [case["text"] for case in REFERENCE] + ["my wallet was drained " * 40]
    batch = encoder.encode(texts, workers=1)
    for case, row in zip(REFERENCE, batch[1:]):
        np.testing.assert_allclose(row, np.asarray(case["embedding"]), atol=1e-5)


def test_featurizer_encodes_a_batch_in_one_packed_pass_and_keeps_recent_texts(encoder: SentenceEncoder,
                                                                             monkeypatch) -> None:
    # Clause triage sends a long message's clauses as one batch: one encode call for the texts not
    # seen lately, each embedding as one text alone gets it; a text seen again is not encoded again.
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message

    from nlu.sentence_features import EnglishSentenceFeaturizer

    featurizer = EnglishSentenceFeaturizer({"model_dir": str(MODEL_DIR)}, "sentence", encoder)
    texts = ["I sent USDT from Binance yesterday", "it never arrived", "what do I do", "it never arrived"]
    expected = {text: alone(encoder, text) for text in texts}  # before encode() is watched
    calls = []
    encode = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts, workers=0: calls.append(list(texts)) or encode(texts, workers))
    messages = [Message(data={TEXT: t}) for t in texts]
    featurizer.process(messages)
    assert calls == [["I sent USDT from Binance yesterday", "it never arrived", "what do I do"]]
    for message in messages:
        _, sentence = message.get_dense_features(TEXT)
        np.testing.assert_allclose(sentence.features[0], expected[message.get(TEXT)], atol=1e-5)
    featurizer.process([Message(data={TEXT: "what do I do"}), Message(data={TEXT: "my funds are gone"})])
    assert calls[1:] == [["my funds are gone"]]
