"""nlu.classifiers: trains, persists, loads, ranks; a message's length does not buy confidence."""

import numpy as np
import pytest
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.classifiers import NormalizedLogisticRegressionClassifier, normalize_rows

TOPICS = {topic: words.split() for topic, words in (line.split(": ") for line in """
suspected_theft: stolen hacked drained thief
stuck_transaction: pending stuck unconfirmed waiting
gas_fee: gas fee expensive gwei
backup_mnemonic: mnemonic backup phrase write
forgot_password: password forgot reset pin
import_wallet: import restore recover existing
create_wallet: create new first setup
app_connectivity: crash network loading offline
dapp_connection: dapp walletconnect connect browser
add_custom_token: token custom contract missing
cross_chain: bridge chain cross arbitrum
greet: hello hi morning hey
""".strip().splitlines())}
FILLER = ["my", "the", "please", "help", "wallet", "i", "is", "it"]


def _messages():
    rng = np.random.RandomState(0)
    messages = []
    for intent, words in TOPICS.items():
        for _ in range(6):
            text = " ".join(rng.permutation(list(rng.choice(words, 2, replace=False)) + list(rng.choice(FILLER, 3))))
            messages.append(Message(data={TEXT: text, INTENT: intent}))
    return messages


@pytest.fixture()
def setup(tmp_path):
    storage = LocalModelStorage(tmp_path)

    def context(name):
        return ExecutionContext(GraphSchema({}), "test", node_name=name)

    tokenizer = WhitespaceTokenizer.create(WhitespaceTokenizer.get_default_config(), storage, Resource("tok"), context("tok"))
    featurizers = [
        CountVectorsFeaturizer.create(CountVectorsFeaturizer.get_default_config(), storage, Resource("cv"), context("cv")),
        CountVectorsFeaturizer.create(
            {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3},
            storage, Resource("cv_char"), context("cv_char"),
        ),
    ]
    data = TrainingData(_messages())
    tokenizer.process_training_data(data)
    for featurizer in featurizers:
        featurizer.train(data)
        featurizer.process_training_data(data)

    def featurize(texts):
        messages = [Message(data={TEXT: t}) for t in texts]
        tokenizer.process(messages)
        for featurizer in featurizers:
            featurizer.process(messages)
        return messages

    def train(config=None, name="classifier"):
        config = {**NormalizedLogisticRegressionClassifier.get_default_config(), **(config or {})}
        classifier = NormalizedLogisticRegressionClassifier.create(config, storage, Resource(name), context(name))
        classifier.train(data)
        return classifier, config

    return storage, context, featurize, train


def _rank(message):
    return message.get(INTENT), message.get(INTENT_RANKING_KEY)


def test_trains_persists_loads_and_ranks(setup):
    storage, context, featurize, train = setup
    classifier, config = train()
    texts = ["help my wallet was hacked and drained", "transaction pending and stuck", "hello hi hey"]
    before = featurize(texts)
    classifier.process(before)

    loaded = NormalizedLogisticRegressionClassifier.load(config, storage, Resource("classifier"), context("classifier"))
    after = featurize(texts)
    loaded.process(after)

    assert [m.get(INTENT)["name"] for m in after] == ["suspected_theft", "stuck_transaction", "greet"]
    for old, new in zip(before, after):
        intent, ranking = _rank(new)
        assert intent == old.get(INTENT)
        assert intent["confidence"] == pytest.approx(ranking[0]["confidence"])
        assert intent["name"] == ranking[0]["name"]
        assert len(ranking) == 10  # 12 intents, ranking cut to 10
        confidences = [r["confidence"] for r in ranking]
        assert confidences == sorted(confidences, reverse=True)
        assert all(isinstance(r["name"], str) and 0.0 <= r["confidence"] <= 1.0 for r in ranking)
        assert intent["confidence"] > 0.4  # above the FallbackClassifier threshold on an easy message


def test_calibrated_svc_variant_gives_probabilities(setup):
    _, _, featurize, train = setup
    classifier, _ = train({"model": "calibrated_svc", "C": 1.0, "calibration_folds": 2}, name="svc")
    messages = featurize(["gas fee too expensive"])
    classifier.process(messages)
    intent, ranking = _rank(messages[0])
    assert intent["name"] == "gas_fee"
    assert sum(r["confidence"] for r in ranking) <= 1.0 + 1e-6


def test_long_message_is_not_more_confident_than_short_one_with_same_content(setup):
    _, _, featurize, train = setup
    classifier, _ = train()
    shorts = ["wallet hacked", "transaction stuck pending", "forgot password", "gas fee", "import restore wallet",
              "token missing", "app crash", "bridge cross chain"]
    differences = []
    for short in shorts:
        long = " ".join([short] * 8)
        messages = featurize([short, long])
        classifier.process(messages)
        (short_intent, _), (long_intent, _) = _rank(messages[0]), _rank(messages[1])
        assert long_intent["name"] == short_intent["name"]
        differences.append(long_intent["confidence"] - short_intent["confidence"])
    # Repetition leaves the normalised features (nearly) unchanged; raw counts would inflate the logits.
    assert np.mean(differences) < 0.02
    assert max(differences) < 0.05


def test_normalisation_is_sublinear_and_unit_length():
    X = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [8.0, 8.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    N = normalize_rows(X, sublinear_tf=True, idf=None).toarray()
    assert np.allclose(N[0], N[1])  # same words, eight times as often: same vector
    assert np.allclose(np.linalg.norm(N[:3], axis=1), 1.0)
    assert np.allclose(N[3], 0.0)


def test_untrained_or_missing_model_does_not_crash(setup):
    storage, context, featurize, _ = setup
    config = NormalizedLogisticRegressionClassifier.get_default_config()
    classifier = NormalizedLogisticRegressionClassifier.load(config, storage, Resource("never_trained"), context("x"))
    messages = featurize(["hello"])
    classifier.process(messages)
    assert messages[0].get(INTENT) == {"name": None, "confidence": 0.0}
    assert messages[0].get(INTENT_RANKING_KEY) == []


def test_rejects_unknown_model():
    with pytest.raises(ValueError):
        NormalizedLogisticRegressionClassifier.validate_config({"model": "random_forest"})
