"""nlu.featurizers: Rasa's sparse featurizers with the sentence row only, the same row as Rasa's."""

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.featurizers import SentenceCountVectorsFeaturizer, SentenceRegexFeaturizer

TEXTS = [("my usdt was stolen", "suspected_theft"), ("transfer pending for hours", "stuck_transaction"),
         ("how do i create a wallet", "create_wallet"), ("trc20 fee too high", "gas_fee")]
PATTERNS = [{"name": "chain", "pattern": "trc20|erc20"}]


def _data():
    return TrainingData([Message(data={TEXT: t, INTENT: i}) for t, i in TEXTS], regex_features=PATTERNS)


@pytest.mark.parametrize("ours, stock, config", [
    (SentenceCountVectorsFeaturizer, CountVectorsFeaturizer, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}),
    (SentenceRegexFeaturizer, RegexFeaturizer, {}),
])
def test_same_sentence_row_as_rasa_and_no_sequence(tmp_path, ours, stock, config):
    storage = LocalModelStorage(tmp_path)

    def run(cls, name):
        context = ExecutionContext(GraphSchema({}), "test", node_name=name)
        tokenizer = WhitespaceTokenizer.create(WhitespaceTokenizer.get_default_config(), storage, Resource(f"{name}-tok"),
                                               context)
        featurizer = cls.create({**cls.get_default_config(), **config}, storage, Resource(name), context)
        data = _data()
        tokenizer.process_training_data(data)
        featurizer.train(data)
        featurizer.process_training_data(data)
        message = Message(data={TEXT: "my trc20 usdt pending"})
        tokenizer.process([message])
        featurizer.process([message])
        return data.training_examples + [message]

    for mine, theirs in zip(run(ours, "ours"), run(stock, "stock")):
        my_sequence, my_sentence = mine.get_sparse_features(TEXT)
        their_sequence, their_sentence = theirs.get_sparse_features(TEXT)
        assert my_sequence is None and their_sequence is not None
        assert np.array_equal(my_sentence.features.toarray(), their_sentence.features.toarray())


def _count_vectors(tmp_path, cls, config):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test", node_name=cls.__name__)
    tokenizer = WhitespaceTokenizer.create(WhitespaceTokenizer.get_default_config(), storage,
                                           Resource(f"{cls.__name__}-tok"), context)
    featurizer = cls.create({**cls.get_default_config(), **config}, storage, Resource(cls.__name__), context)
    data = _data()
    tokenizer.process_training_data(data)
    featurizer.train(data)
    return tokenizer, featurizer


@pytest.mark.parametrize("config", [{"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}, {}])
def test_count_vectors_of_many_messages_are_each_message_s_row_as_rasa_builds_it(tmp_path, config):
    """One transform for all messages gives, row for row, the sentence matrix Rasa builds message by message:
    the same columns in the same order, the same counts and dtype; a message without tokens gets none."""
    texts = ["my usdt usdt was stolen", "", "trc20 fee too high trc20", "unknownword only", "stolen"]
    rows = {}
    for cls in (SentenceCountVectorsFeaturizer, CountVectorsFeaturizer):
        (tmp_path / cls.__name__).mkdir()
        tokenizer, featurizer = _count_vectors(tmp_path / cls.__name__, cls, config)
        messages = [Message(data={TEXT: text}) for text in texts]
        tokenizer.process(messages)
        featurizer.process(messages)
        rows[cls] = [m.get_sparse_features(TEXT)[1] for m in messages]
    for mine, theirs in zip(rows[SentenceCountVectorsFeaturizer], rows[CountVectorsFeaturizer]):
        if theirs is None:
            assert mine is None
            continue
        assert mine.features.dtype == theirs.features.dtype and mine.features.shape == theirs.features.shape
        for field in ("row", "col", "data"):
            assert np.array_equal(getattr(mine.features, field), getattr(theirs.features, field))


def test_count_vectors_transform_once_per_attribute_not_twice_per_message(tmp_path, monkeypatch):
    """Rasa's featurizer vectorised each message twice (its tokens, then their joined text): the training's
    second-largest cost after the fit and the encoder. Ours: one transform for all the messages given."""
    from sklearn.feature_extraction.text import CountVectorizer

    tokenizer, featurizer = _count_vectors(tmp_path, SentenceCountVectorsFeaturizer,
                                           {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4})
    messages = [Message(data={TEXT: f"{text} number {i}"}) for i, (text, _) in enumerate(TEXTS * 5)]
    tokenizer.process(messages)
    calls = []
    transform = CountVectorizer.transform

    def counted(self, documents):
        calls.append(len(documents))
        return transform(self, documents)

    monkeypatch.setattr(CountVectorizer, "transform", counted)
    featurizer.process(messages)
    assert calls == [len(messages)]
    assert all(m.get_sparse_features(TEXT)[1] is not None for m in messages)
