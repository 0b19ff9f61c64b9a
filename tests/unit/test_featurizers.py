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
