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

from nlu.classifiers import NormalizedLogisticRegressionClassifier, neighbour_vote, normalize_rows

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


def test_neighbour_vote_follows_the_nearest_rows_and_skips_rows_without_features():
    pool = np.eye(4, dtype=np.float32)
    labels = np.array([0, 1, 1, 2])
    queries = np.array([[0.0, 0.96, 0.28, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]], dtype=np.float32)
    votes = neighbour_vote(queries, pool, labels, n_labels=3, k=10, temperature=0.05)
    assert votes[0].argmax() == 1 and votes[0].sum() == pytest.approx(1.0)
    assert not votes[1].any()  # a message with no sentence embedding (Chinese) gets no vote
    assert votes[2].argmax() == 2 and votes[2][2] > 0.99  # a near-paraphrase outvotes unrelated rows


def _with_dense(messages, vectors):
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE
    from rasa.shared.nlu.training_data.features import Features

    for message, vector in zip(messages, vectors):
        if vector is not None:
            message.add_features(Features(np.asarray([vector], dtype=np.float32), FEATURE_TYPE_SENTENCE, TEXT, "dense"))
    return messages


def test_neighbours_vote_moves_a_message_towards_its_paraphrase_and_survives_persistence(tmp_path):
    """The sentence row of a training message pulls an ambiguous message with the same row to its intent.

    The training rows are random (no topic structure the linear model could learn); the query
    repeats the row of one gas-fee message, as a paraphrase of it would be embedded.
    """
    storage = LocalModelStorage(tmp_path)
    rng = np.random.RandomState(1)
    train_messages = _messages()
    rows = [rng.normal(size=8) for _ in train_messages]
    _with_dense(train_messages, rows)
    paraphrase = next(row for row, m in zip(rows, train_messages) if m.get(INTENT) == "gas_fee")
    tokenizer = WhitespaceTokenizer.create(WhitespaceTokenizer.get_default_config(), storage, Resource("tok"),
                                           ExecutionContext(GraphSchema({}), "test", node_name="tok"))
    featurizer = CountVectorsFeaturizer.create(CountVectorsFeaturizer.get_default_config(), storage, Resource("cv"),
                                               ExecutionContext(GraphSchema({}), "test", node_name="cv"))
    data = TrainingData(train_messages)
    tokenizer.process_training_data(data)
    featurizer.train(data)
    featurizer.process_training_data(data)

    def featurize(text, vector):
        message = Message(data={TEXT: text})
        tokenizer.process([message])
        featurizer.process([message])
        return _with_dense([message], [vector])

    def probabilities(classifier, vector):
        intents, rows = classifier.predict_proba(featurize("my wallet please help", vector))
        return dict(zip(intents, rows[0]))

    context = ExecutionContext(GraphSchema({}), "test", node_name="knn")
    results = {}
    for weight in (0.0, 0.5):
        config = {**NormalizedLogisticRegressionClassifier.get_default_config(), "neighbours_weight": weight}
        classifier = NormalizedLogisticRegressionClassifier.create(config, storage, Resource(f"knn{weight}"), context)
        classifier.train(data)
        loaded = NormalizedLogisticRegressionClassifier.load(config, storage, Resource(f"knn{weight}"), context)
        results[weight] = (probabilities(loaded, paraphrase), probabilities(loaded, None),
                           probabilities(classifier, paraphrase))
    with_vote, without_dense, unpersisted = results[0.5]
    assert with_vote["gas_fee"] > results[0.0][0]["gas_fee"] + 0.3
    assert with_vote == pytest.approx(unpersisted)
    assert sum(with_vote.values()) == pytest.approx(1.0)
    # No sentence row: the linear model alone, as without the vote.
    assert without_dense == pytest.approx(results[0.0][1])


def test_rejects_a_neighbour_weight_outside_zero_to_one():
    with pytest.raises(ValueError):
        NormalizedLogisticRegressionClassifier.validate_config({"neighbours_weight": 1.0})


def test_the_fit_runs_its_products_on_row_blocks(setup, monkeypatch):
    """The solver gets nlu.row_split's matrix: the same coefficients, on every core (the training budget)."""
    from sklearn.linear_model import LogisticRegression

    from nlu.row_split import RowSplitCSR

    seen = []
    fit = LogisticRegression.fit

    def spy(self, X, y, sample_weight=None):
        seen.append(type(X))
        return fit(self, X, y, sample_weight)

    monkeypatch.setattr(LogisticRegression, "fit", spy)
    _, _, _, train = setup
    train()
    assert seen == [RowSplitCSR]
