"""A linear intent classifier on length-normalised bag-of-n-gram features.

Rasa's ``LogisticRegressionClassifier`` fits on the raw CountVectorsFeaturizer
counts: a real user's five-sentence message has counts many times larger than a
short FAQ question, so its logits, and its confidence, scale with its length, and
the long messages dominate the fit. ``NormalizedLogisticRegressionClassifier``
rescales the sentence features first, as a tf-idf text classifier does:

1. sublinear term frequency: ``log1p`` of every count (a word said three times is
   not three times the evidence);
2. optionally idf learned on the training data (``use_idf``): words in every
   message weigh little;
3. L2 normalisation per message: the same words give the same feature vector
   however often the message repeats them.

On top: logistic regression (``C``, ``class_weight``) or a sigmoid-calibrated
LinearSVC (``model: calibrated_svc``); both give probabilities, which the
FallbackClassifier threshold needs. The defaults were chosen by grouped cross-
validation on the training data only (real users' messages grouped by thread,
synthetic data always in training; scored on triage-class accuracy with the
FallbackClassifier's thresholds): the probabilities of an L2-normalised model are
flat unless it is weakly regularised, hence the large ``C``. Triage accuracy
(5-fold grouped CV, real messages): Rasa's LogisticRegressionClassifier 0.60,
DIETClassifier 0.67, this classifier (log1p + idf + L2, C=10000, balanced) 0.68;
with C=1000 0.65, C=300 0.63 (too many messages under the 0.4 threshold). Those were
the n-grams alone; with the sentence features beside them and the decision by triage
class, C=3000 does as well as 10000 and fits faster (config.yml, results/nlu_cv.md).

``neighbours_weight`` mixes in a nearest-neighbour vote over the dense sentence rows of the
training messages (:func:`neighbour_vote`): a real user's phrasing that the linear model has
no weight for can still sit next to a training message that says the same thing in other
words.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import numpy as np
import scipy.sparse as sp

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.tensorflow.constants import RANKING_LENGTH

from nlu.code_fingerprint import CodeFingerprinted
from nlu.row_split import RowSplitCSR

logger = logging.getLogger(__name__)

LOGISTIC_REGRESSION = "logistic_regression"
CALIBRATED_SVC = "calibrated_svc"


def document_frequency(X: sp.csr_matrix) -> np.ndarray:
    """In how many rows each column is non-zero."""
    X = sp.csr_matrix(X)
    return np.bincount(X.indices, minlength=X.shape[1]) if X.nnz else np.zeros(X.shape[1], dtype=np.int64)


def idf_weights(X: sp.csr_matrix) -> np.ndarray:
    """Smoothed idf of each column (as scikit-learn's TfidfTransformer computes it)."""
    return np.log((1.0 + X.shape[0]) / (1.0 + document_frequency(X))) + 1.0


def frequent_columns(X: sp.csr_matrix, min_df: int) -> Optional[np.ndarray]:
    """Indices of the columns non-zero in at least ``min_df`` rows; None when that is all of them."""
    if min_df <= 1:
        return None
    return np.flatnonzero(document_frequency(X) >= min_df)


def normalize_rows(X: sp.csr_matrix, sublinear_tf: bool, idf: Optional[np.ndarray]) -> sp.csr_matrix:
    """log1p of the counts, times idf, then unit L2 norm per row (all-zero rows stay zero)."""
    X = sp.csr_matrix(X, dtype=np.float64, copy=True)
    X.sum_duplicates()
    if sublinear_tf:
        X.data = np.sign(X.data) * np.log1p(np.abs(X.data))
    if idf is not None:
        X = sp.csr_matrix(X @ sp.diags(idf))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ X)


def normalized_blocks(sparse: Optional[sp.csr_matrix], dense: Optional[Any], sublinear_tf: bool,
                      idf: Optional[np.ndarray]) -> Optional[sp.csr_matrix]:
    """The classifier's input: n-gram rows (tf(-idf), unit norm) beside dense rows (unit norm); None if neither."""
    blocks = [normalize_rows(sparse, sublinear_tf, idf)] if sparse is not None else []
    if dense is not None:
        blocks.append(normalize_rows(sp.csr_matrix(dense), False, None))
    return sp.hstack(blocks).tocsr() if blocks else None


def neighbour_vote(queries: np.ndarray, pool: np.ndarray, pool_labels: np.ndarray, n_labels: int, k: int,
                   temperature: float) -> np.ndarray:
    """Each query's label distribution among its ``k`` most similar pool rows (all rows unit length).

    The neighbours' votes are weighted by ``exp(similarity / temperature)``: a near-paraphrase
    outvotes several loosely related messages. A query with no dense row (all zeros) gets zeros.
    """
    votes = np.zeros((len(queries), n_labels))
    if not len(pool) or not len(queries):
        return votes
    k = min(k, len(pool))
    similarity = queries @ pool.T
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    for row, columns in enumerate(top):
        if not queries[row].any():
            continue
        weights = np.exp((similarity[row, columns] - similarity[row, columns].max()) / temperature)
        np.add.at(votes[row], pool_labels[columns], weights / weights.sum())
    return votes


def dense_rows(X: sp.csr_matrix, n_dense: int) -> np.ndarray:
    """The last ``n_dense`` columns of ``X`` (the sentence embeddings) as float32 rows.

    Single precision: a float64 query against the float32 pool would copy the pool on every product.
    """
    if not n_dense:
        return np.zeros((X.shape[0], 0), dtype=np.float32)
    return X[:, X.shape[1] - n_dense:].toarray().astype(np.float32)


def neighbour_pool(dense: np.ndarray, labels: np.ndarray,
                   classes: np.ndarray) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The training rows that have an embedding, and their labels as indices into ``classes``; None if none has."""
    keep = np.flatnonzero(dense.any(axis=1)) if dense.shape[1] else np.zeros(0, dtype=int)
    if not len(keep):
        return None
    return dense[keep], np.searchsorted(classes, labels[keep])


def with_neighbour_vote(probabilities: np.ndarray, queries: np.ndarray, pool: np.ndarray, pool_labels: np.ndarray,
                       weight: float, k: int, temperature: float) -> np.ndarray:
    """``probabilities`` with the neighbours' vote mixed in at ``weight``, for the queries with a dense row."""
    if weight <= 0 or not len(pool):
        return probabilities
    votes = neighbour_vote(queries, pool, pool_labels, probabilities.shape[1], k, temperature)
    voted = queries.any(axis=1)
    mixed = probabilities.copy()
    mixed[voted] = (1 - weight) * probabilities[voted] + weight * votes[voted]
    return mixed


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class NormalizedLogisticRegressionClassifier(CodeFingerprinted, IntentClassifier, GraphComponent):
    """Intent classifier: sublinear tf(-idf), L2 per message, then a linear model."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Featurizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "joblib"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # logistic_regression | calibrated_svc
            "model": LOGISTIC_REGRESSION,
            # Inverse regularisation strength. Large: on unit-norm rows a strongly
            # regularised model spreads its probability over all intents and most
            # messages fall under the FallbackClassifier threshold.
            "C": 10000.0,
            # "balanced" or null
            "class_weight": "balanced",
            "sublinear_tf": True,
            "use_idf": True,
            # n-gram columns seen in fewer training messages are dropped: half of the character
            # n-grams occur once, and fitting their weights took 40 % of the fit for no gain (grouped
            # CV, results/nlu_cv.md: triage 0.772 against 0.774, a fold's fit 50 s instead of 88 s).
            "min_df": 1,
            # Logistic regression: newton-cg converges in ~20 iterations here, lbfgs needs hundreds.
            "solver": "newton-cg",
            "max_iter": 1000,
            "tol": 1e-4,
            # Calibrated LinearSVC only.
            "calibration_method": "sigmoid",
            "calibration_folds": 3,
            "random_state": 42,
            # Share of the nearest-neighbour vote on the dense sentence rows in the probabilities
            # (0: the linear model alone); k neighbours, softmax temperature on their similarity.
            "neighbours_weight": 0.0,
            "neighbours_k": 15,
            "neighbours_temperature": 0.05,
            RANKING_LENGTH: LABEL_RANKING_LENGTH,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        name: Text,
        model_storage: ModelStorage,
        resource: Resource,
        clf: Any = None,
        idf: Optional[np.ndarray] = None,
        sizes: Optional[Tuple[int, int]] = None,
        columns: Optional[np.ndarray] = None,
        neighbours: Optional[Tuple[np.ndarray, np.ndarray]] = None,
    ) -> None:
        self.name = name
        self.config = {**self.get_default_config(), **config}
        self.clf = clf
        self.idf = idf
        # Widths of the sparse and dense sentence features seen in training.
        self.sizes = sizes
        # The n-gram columns kept (``min_df``); None: all of them.
        self.columns = columns
        # The training messages' unit dense rows (float32) and their intents' indices in clf.classes_.
        self.neighbours = neighbours
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        model = config.get("model", LOGISTIC_REGRESSION)
        if model not in (LOGISTIC_REGRESSION, CALIBRATED_SVC):
            raise ValueError(f"model must be '{LOGISTIC_REGRESSION}' or '{CALIBRATED_SVC}', not {model!r}")
        if float(config.get("C", 1.0)) <= 0:
            raise ValueError("C must be positive")
        if int(config.get("min_df", 1)) < 1:
            raise ValueError("min_df must be 1 or more")
        if not 0.0 <= float(config.get("neighbours_weight", 0.0)) < 1.0:
            raise ValueError("neighbours_weight must be in [0, 1)")

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> NormalizedLogisticRegressionClassifier:
        cls.validate_config({**cls.get_default_config(), **config})
        return cls(config, execution_context.node_name, model_storage, resource)

    def _new_model(self) -> Any:
        c = self.config
        class_weight = c["class_weight"] or None
        if c["model"] == CALIBRATED_SVC:
            from sklearn.calibration import CalibratedClassifierCV
            from sklearn.svm import LinearSVC

            return CalibratedClassifierCV(
                LinearSVC(C=float(c["C"]), class_weight=class_weight, random_state=c["random_state"]),
                method=c["calibration_method"],
                cv=int(c["calibration_folds"]),
            )
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=float(c["C"]),
            class_weight=class_weight,
            solver=c["solver"],
            max_iter=int(c["max_iter"]),
            tol=float(c["tol"]),
            random_state=c["random_state"],
        )

    @staticmethod
    def _raw_features(messages: List[Message]) -> Tuple[List[Any], List[Any]]:
        sparse, dense = [], []
        for message in messages:
            sparse_sentence = message.get_sparse_features(attribute=TEXT)[1]
            dense_sentence = message.get_dense_features(attribute=TEXT)[1]
            sparse.append(sparse_sentence.features if sparse_sentence is not None else None)
            dense.append(dense_sentence.features if dense_sentence is not None else None)
        return sparse, dense

    @staticmethod
    def _stack_sparse(rows: List[Any], width: int) -> sp.csr_matrix:
        return sp.vstack(
            [sp.csr_matrix(r) if r is not None and r.shape[-1] == width else sp.csr_matrix((1, width)) for r in rows]
        ).tocsr() if rows else sp.csr_matrix((0, width))

    @staticmethod
    def _stack_dense(rows: List[Any], width: int) -> np.ndarray:
        out = np.zeros((len(rows), width))
        for i, r in enumerate(rows):
            if r is not None and np.asarray(r).shape[-1] == width:
                out[i] = np.asarray(r).reshape(-1, width)[0]
        return out

    def _matrix(self, messages: List[Message], fit: bool = False) -> sp.csr_matrix:
        """Normalised features: sparse tf(-idf) rows of unit norm, then dense rows of unit norm."""
        sparse, dense = self._raw_features(messages)
        if fit:
            widths = [r.shape[-1] for r in sparse if r is not None]
            dense_widths = [np.asarray(r).shape[-1] for r in dense if r is not None]
            self.sizes = (max(widths, default=0), max(dense_widths, default=0))
        n_sparse, n_dense = self.sizes or (0, 0)
        X = self._stack_sparse(sparse, n_sparse)
        if fit:
            self.columns = frequent_columns(X, int(self.config["min_df"])) if n_sparse else None
        if self.columns is not None:
            X = X[:, self.columns]
        if fit:
            self.idf = idf_weights(X) if self.config["use_idf"] and n_sparse else None
        matrix = normalized_blocks(X if n_sparse else None, self._stack_dense(dense, n_dense) if n_dense else None,
                                   self.config["sublinear_tf"], self.idf)
        return matrix if matrix is not None else sp.csr_matrix((len(messages), 0))

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        labels = np.asarray([e.get(INTENT) for e in examples])
        if not examples or len(set(labels)) < 2:
            logger.debug(f"Cannot train '{self.__class__.__name__}': needs examples of two intents or more.")
            return self._resource
        X = self._matrix(examples, fit=True)
        if X.shape[1] == 0:
            logger.debug(f"Cannot train '{self.__class__.__name__}': the messages have no features.")
            return self._resource
        self.clf = self._new_model()
        # Single precision: the solver's sparse products read half the memory (about 5 % of the fit's time).
        # Row blocks side by side: those products on every core, the same coefficients (nlu/row_split.py).
        self.clf.fit(RowSplitCSR(X.astype(np.float32)), labels)
        self.neighbours = (neighbour_pool(self._dense_block(X), labels, self.clf.classes_)
                           if float(self.config["neighbours_weight"]) > 0 else None)
        self.persist()
        return self._resource

    def _dense_block(self, X: sp.csr_matrix) -> np.ndarray:
        return dense_rows(X, (self.sizes or (0, 0))[1])

    def predict_proba(self, messages: List[Message]) -> Tuple[np.ndarray, np.ndarray]:
        """The intents and each message's probability for every one of them."""
        X = self._matrix(messages)
        probabilities = self.clf.predict_proba(X)
        if self.neighbours is not None:
            probabilities = with_neighbour_vote(
                probabilities, self._dense_block(X), *self.neighbours, float(self.config["neighbours_weight"]),
                int(self.config["neighbours_k"]), float(self.config["neighbours_temperature"]))
        return np.asarray(self.clf.classes_), probabilities

    def process(self, messages: List[Message]) -> List[Message]:
        if self.clf is None or not messages:
            for message in messages:
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
            return messages
        intents, probabilities = self.predict_proba(messages)
        ranking_length = int(self.config[RANKING_LENGTH])
        for message, row in zip(messages, probabilities):
            order = np.argsort(-row, kind="stable")
            ranking = [{"name": str(intents[i]), "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            if ranking_length > 0:
                ranking = ranking[:ranking_length]
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        import joblib

        with self._model_storage.write_to(self._resource) as model_dir:
            path = model_dir / f"{self._resource.name}.joblib"
            joblib.dump({"clf": self.clf, "idf": self.idf, "sizes": self.sizes, "columns": self.columns,
                         "neighbours": self.neighbours}, path)
            logger.debug(f"Saved intent classifier to '{path}'.")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> NormalizedLogisticRegressionClassifier:
        import joblib

        try:
            with model_storage.read_from(resource) as model_dir:
                # joblib unpickles: load only models you trained (as for any Rasa model archive).
                state = joblib.load(model_dir / f"{resource.name}.joblib")
        except (ValueError, FileNotFoundError):
            logger.debug(f"No trained {cls.__name__} in resource '{resource.name}': not trained yet.")
            return cls.create(config, model_storage, resource, execution_context)
        return cls(
            config, execution_context.node_name, model_storage, resource,
            clf=state["clf"], idf=state["idf"], sizes=state["sizes"], columns=state.get("columns"),
            neighbours=state.get("neighbours"),
        )
