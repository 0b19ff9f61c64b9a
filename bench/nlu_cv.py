"""Choose the intent classifier's settings by grouped cross-validation on the training data only.

The real held-out split (``tests/nlu/real_heldout.tsv``) must stay a measurement, so
settings are never tuned on it. This harness tunes on the *training* side instead:
real users' training messages are split into folds by source thread (GroupKFold on
the URL), the synthetic data always stays in training, and each fold's real messages
are scored the way ``bench.nlu_real`` scores the held-out split (triage class, theft
recall and precision, out-of-scope handled), after the same decision rules the bot
applies (the FallbackClassifier's thresholds, answer-intent gating, the stricter
out-of-scope threshold).

Features come from the trained model's own featurizers (jieba words, character
n-grams, regexes), captured once at the classifier's input, so only the classifier
is refitted per fold: a whole grid runs in minutes instead of a Rasa training per
fold and setting. The grid leaves the clause triage out (it needs a parse per clause);
``--clauses`` compares the whole-message decision with the clause triage, featurizing
each clause on demand (theft guard included).

Run: ``python -m bench.nlu_cv [--model models/X.tar.gz] [--out results/nlu_cv.md]``; one table row per
setting. ``python -m bench.nlu_cv --clauses``: the clause triage's table.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp

from bench.report import PROJECT_ROOT
from nlu.classifiers import (NormalizedLogisticRegressionClassifier, dense_rows, frequent_columns, idf_weights,
                             neighbour_pool, normalized_blocks, with_neighbour_vote)
from nlu.fallback import CLASS_THRESHOLD, THEFT_SHARE, choose_by_class, has_words
from nlu.gating import FALLBACK_THRESHOLD
from nlu.row_split import RowSplitCSR
from nlu.triage import FALLBACK, OUT_OF_SCOPE, OUT_OF_SCOPE_THRESHOLD

# The classifier's ranking length (Rasa's LABEL_RANKING_LENGTH): the fallback component sees no more.
RANKING_LENGTH = 10
REAL_USERS_FILE = "real_users.yml"


@dataclass
class Example:
    text: str
    intent: str
    group: Optional[str]  # source thread URL for real users' messages; None for synthetic ones
    language: str


def training_examples() -> List[Example]:
    """The NLU training data: synthetic files as they are, real users' training split with its thread URL."""
    import sys

    from rasa.shared.nlu.training_data.loading import load_data

    from safety.text import detect_language

    sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
    from real_split import collect_rows  # noqa: E402  (a script, not a package)

    examples: List[Example] = []
    for path in sorted((PROJECT_ROOT / "data/nlu").glob("*.yml")):
        if path.name == REAL_USERS_FILE:
            continue
        for message in load_data(str(path)).intent_examples:
            text = message.get("text")
            examples.append(Example(text, message.get("intent"), None, detect_language(text) or "en"))
    for row in collect_rows():
        if row["split"] == "train":
            language = "zh" if row["lang"].startswith("zh") else "en"
            examples.append(Example(row["text"].replace("\n", " "), row["intent"], row["url"], language))
    return examples


class FeatureCapture:
    """Sentence features at the intent classifier's input, from the model's own featurizers, per text (cached).

    The classifier's ``process`` is wrapped before the model loads (Rasa binds it then) to record
    its input; a text the pipeline never classifies (an empty one) gets an all-zero row.
    """

    def __init__(self, model: Path) -> None:
        from rasa.core.agent import Agent

        self._captured: List[sp.csr_matrix] = []
        self._cache: Dict[str, Optional[sp.csr_matrix]] = {}
        self.width = 0
        # Columns at the end that are dense sentence features (nlu.sentence_features), not n-gram counts.
        self.dense_width = 0
        original = NormalizedLogisticRegressionClassifier.process
        captured = self._captured

        def record(classifier: NormalizedLogisticRegressionClassifier, messages: list) -> list:
            # The sparse n-gram block, then the dense sentence-embedding block (zeros where a message has none).
            sparse, dense = classifier._raw_features(messages)
            n_sparse, n_dense = classifier.sizes
            self.dense_width = n_dense
            captured.extend(sp.hstack([classifier._stack_sparse([row], n_sparse),
                                       sp.csr_matrix(classifier._stack_dense([vector], n_dense))]).tocsr()
                            for row, vector in zip(sparse, dense))
            return original(classifier, messages)

        NormalizedLogisticRegressionClassifier.process = record  # type: ignore[assignment]
        try:
            self.agent = Agent.load(str(model))
        finally:
            NormalizedLogisticRegressionClassifier.process = original  # type: ignore[assignment]

    def __call__(self, texts: Sequence[str]) -> sp.csr_matrix:
        todo = [text for text in dict.fromkeys(texts) if text not in self._cache]

        async def run() -> None:
            for text in todo:
                self._captured.clear()
                await self.agent.parse_message(text)
                self._cache[text] = self._captured[-1] if self._captured else None
                if self._captured:
                    self.width = self._captured[-1].shape[1]

        asyncio.run(run())
        return sp.vstack([self._cache[t] if self._cache[t] is not None else sp.csr_matrix((1, self.width))
                          for t in texts]).tocsr()


def captured_features(model: Path, texts: Sequence[str], name: str) -> Tuple[sp.csr_matrix, int]:
    """The classifier's raw input rows for ``texts`` under ``model``, kept in ``var/<name>-<model>.npz``, and how
    many of the last columns are sentence embeddings."""
    cache = PROJECT_ROOT / "var" / f"{name}-{model.name}.npz"
    dense_cache = cache.with_suffix(".dense.npy")
    if cache.exists() and dense_cache.exists():
        cached = sp.load_npz(cache).tocsr()
        if cached.shape[0] == len(texts):
            return cached, int(np.load(dense_cache))
    capture = FeatureCapture(model)
    X, dense_width = capture(texts), capture.dense_width
    cache.parent.mkdir(exist_ok=True)
    sp.save_npz(cache, X)
    np.save(dense_cache, np.asarray(dense_width))
    return X, dense_width


def training_features(model: Path, examples: List[Example]) -> Tuple[sp.csr_matrix, int]:
    """The classifier's raw input rows for ``examples`` under ``model`` (kept in ``var/``), and how many
    of the last columns are sentence embeddings."""
    return captured_features(model, [e.text for e in examples], "nlu_cv_features")


def decide(intents: np.ndarray, row: np.ndarray, class_threshold: float = CLASS_THRESHOLD,
           theft_share: float = THEFT_SHARE, text: Optional[str] = None) -> str:
    """What the bot does with one ranking on a first message (nothing asked: answer intents count for no
    class): the intent it answers (``nlu.fallback.choose_by_class``, then ``nlu.gating``'s stricter
    threshold for declining), or the fallback. Given the ``text``, a message without words (a bare
    hash) is asked about whatever its ranking, as in ``TriageFallbackClassifier``."""
    if text is not None and not has_words(text):
        return FALLBACK
    ranking = [{"name": str(intents[i]), "confidence": float(row[i])}
               for i in np.argsort(-row, kind="stable")[:RANKING_LENGTH]]
    chosen = choose_by_class(ranking, class_threshold, theft_share)
    if chosen is None:
        return FALLBACK
    if chosen["name"] == OUT_OF_SCOPE and float(chosen["confidence"]) < OUT_OF_SCOPE_THRESHOLD:
        return FALLBACK
    return str(chosen["name"])


def scores(pairs: Iterable[Tuple[Example, str]]) -> Dict[str, float]:
    """``bench.nlu_real``'s scores of the held-out split, on (training example, decision) pairs."""
    from bench.nlu_real import RealExample, RealPrediction, by_language

    predictions = [RealPrediction(RealExample({"id": "", "url": e.group or "", "lang": e.language, "intent": e.intent,
                                               "text": e.text}), predicted, 0.0) for e, predicted in pairs]
    by = by_language(predictions)
    return {"triage": by["all"]["triage_accuracy"], "triage_zh": by["zh"]["triage_accuracy"],
            "theft_recall": by["all"]["theft_recall"], "theft_precision": by["all"]["theft_precision"],
            "oos_handled": by["all"]["oos_handled"], "fine": by["all"]["fine_intent_accuracy"]}


@dataclass(frozen=True)
class Setting:
    C: float = 1000.0  # config.yml's
    real_weight: float = 1.0
    class_weight: Optional[str] = "balanced"
    class_threshold: float = CLASS_THRESHOLD
    theft_share: float = THEFT_SHARE
    min_df: int = 2  # config.yml's
    tol: float = 4e-2  # config.yml's
    neighbours_weight: float = 0.3  # config.yml's (k and temperature: the classifier's defaults)

    def label(self) -> str:
        return (f"C={self.C:g} real×{self.real_weight:g} class_weight={self.class_weight} "
                f"class_threshold={self.class_threshold:g} theft_share={self.theft_share:g} min_df={self.min_df} "
                f"tol={self.tol:g} neighbours={self.neighbours_weight:g}")


def normalizer(setting: Setting, X: sp.csr_matrix, dense_width: int = 0) -> Callable[[sp.csr_matrix], sp.csr_matrix]:
    """Raw feature rows to the classifier's input, as ``nlu.classifiers`` learns it from ``X``: n-grams in
    ``min_df`` rows or more, log1p tf, idf, L2; the last ``dense_width`` columns (sentence embeddings), L2."""
    n_sparse = X.shape[1] - dense_width
    kept = frequent_columns(X[:, :n_sparse], setting.min_df)
    columns = kept if kept is not None else np.arange(n_sparse)
    idf = idf_weights(X[:, columns])

    def features(rows: sp.csr_matrix) -> sp.csr_matrix:
        return normalized_blocks(rows[:, columns], rows[:, n_sparse:] if dense_width else None, True, idf)

    return features


def new_model(setting: Setting) -> Any:
    """The classifier's logistic regression with ``setting``'s parameters (config.yml's by default)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=setting.C, class_weight=setting.class_weight, solver="newton-cg",
                              max_iter=1000, tol=setting.tol, random_state=42)


def fit(setting: Setting, X: sp.csr_matrix, y: np.ndarray, weights: np.ndarray,
        train: np.ndarray, dense_width: int = 0) -> Callable[[sp.csr_matrix], Tuple[np.ndarray, np.ndarray]]:
    """The classifier as ``nlu.classifiers`` trains it (n-grams: log1p tf, idf, L2; the last ``dense_width``
    columns, sentence embeddings: L2; the neighbours' vote on those), fitted on ``train``: a function from
    raw feature rows to (intents, probabilities)."""
    features = normalizer(setting, X[train], dense_width)
    clf = new_model(setting)
    trained = features(X[train])
    clf.fit(RowSplitCSR(trained), y[train], sample_weight=weights[train])
    defaults = NormalizedLogisticRegressionClassifier.get_default_config()
    pool = (neighbour_pool(dense_rows(trained, dense_width), y[train], clf.classes_)
            if setting.neighbours_weight > 0 else None)

    def predict(rows: sp.csr_matrix) -> Tuple[np.ndarray, np.ndarray]:
        normalized = features(rows)
        probabilities = clf.predict_proba(normalized)
        if pool is not None:
            probabilities = with_neighbour_vote(
                probabilities, dense_rows(normalized, dense_width), *pool, setting.neighbours_weight,
                int(defaults["neighbours_k"]), float(defaults["neighbours_temperature"]))
        return clf.classes_, probabilities

    return predict


def repository(url: str) -> str:
    """A thread URL's repository ("owner/name" on GitHub), or its host elsewhere."""
    parts = url.split("/")
    if len(parts) > 4 and parts[2] == "github.com":
        return "/".join(parts[3:5])
    return parts[2] if len(parts) > 2 else url


def fold_groups(examples: List[Example], real_index: np.ndarray, by_repository: bool = False) -> List[str]:
    """Each real message's fold group: its thread, or its thread's repository."""
    return [repository(examples[i].group) if by_repository else examples[i].group for i in real_index]


def cross_validate(setting: Setting, examples: List[Example], X: sp.csr_matrix,
                   folds: int = 5, dense_width: int = 0, by_repository: bool = False) -> Dict[str, float]:
    """Out-of-fold scores on the real training messages, in folds by thread, or by repository: the folds then
    hold repositories the model never saw, as messages from other sources are for the outside checks."""
    from sklearn.model_selection import GroupKFold

    y = np.asarray([e.intent for e in examples])
    real = np.asarray([e.group is not None for e in examples])
    weights = np.where(real, setting.real_weight, 1.0)
    real_index = np.flatnonzero(real)
    pairs: List[Tuple[Example, str]] = []
    for _, test_part in GroupKFold(n_splits=folds).split(real_index, groups=fold_groups(examples, real_index,
                                                                                        by_repository)):
        test = real_index[test_part]
        train = np.setdiff1d(np.arange(len(examples)), test)
        intents, probabilities = fit(setting, X, y, weights, train, dense_width)(X[test])
        pairs += [(examples[i], decide(intents, row, setting.class_threshold, setting.theft_share, examples[i].text))
                  for i, row in zip(test, probabilities)]
    return scores(pairs)


def clause_triage_scores(examples: List[Example], features: FeatureCapture, folds: int = 5,
                         clause_confidences: Sequence[float] = (),
                         by_repository: bool = False) -> Dict[str, Dict[str, float]]:
    """Per fold: the whole message's decision, and the clause triage over it (``nlu.triage``), as the bot runs them.

    Each clause (and the text left without its pleasantries) is featurized on demand and
    classified by the fold's model, with the theft guard forcing ``suspected_theft``.
    """
    from sklearn.model_selection import GroupKFold

    from nlu import triage
    from nlu.theft_guard import find_theft_signal
    from safety.text import normalize_for_nlu

    X = features([e.text for e in examples])
    y = np.asarray([e.intent for e in examples])
    real_index = np.flatnonzero([e.group is not None for e in examples])
    thresholds = list(clause_confidences) or [triage.CLAUSE_CONFIDENCE]
    labels = {t: "with clause triage" + (f" (clause confidence {t:g})" if clause_confidences else "")
              for t in thresholds}
    pairs: Dict[str, List[Tuple[Example, str]]] = {"whole message": [], **{label: [] for label in labels.values()}}
    for _, test_part in GroupKFold(n_splits=folds).split(real_index, groups=fold_groups(examples, real_index,
                                                                                        by_repository)):
        test = real_index[test_part]
        train = np.setdiff1d(np.arange(len(examples)), test)
        predict = fit(Setting(), X, y, np.ones(len(examples)), train, features.dense_width)

        def parse(text: str) -> Dict[str, object]:
            intents, rows = predict(features([text]))
            row = rows[0]
            ranking = sorted(({"name": str(n), "confidence": float(p)} for n, p in zip(intents, row)),
                             key=lambda r: -r["confidence"])[:10]
            if find_theft_signal(normalize_for_nlu(text)):
                return {"text": text, "intent": {"name": "suspected_theft", "confidence": 1.0}, "intent_ranking": ranking}
            name = decide(intents, row, text=text)
            confidence = float(row[list(intents).index(name)]) if name != FALLBACK else FALLBACK_THRESHOLD
            return {"text": text, "intent": {"name": name, "confidence": confidence}, "intent_ranking": ranking}

        for i in test:
            whole = parse(examples[i].text)
            pairs["whole message"].append((examples[i], str(whole["intent"]["name"])))
            for threshold, label in labels.items():
                default, triage.CLAUSE_CONFIDENCE = triage.CLAUSE_CONFIDENCE, threshold
                try:
                    chosen = triage.triage_parse(examples[i].text, whole, lambda texts: [parse(t) for t in texts])
                finally:
                    triage.CLAUSE_CONFIDENCE = default
                pairs[label].append((examples[i], str(chosen["intent"]["name"])))
    return {label: scores(found) for label, found in pairs.items()}


def main() -> None:
    import argparse

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from bench.nlu_bench import latest_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--clauses", action="store_true",
                        help="compare the whole-message decision with the clause triage (theft guard included)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here (e.g. results/nlu_cv.md)")
    parser.add_argument("--clause-confidence", type=float, nargs="*", default=[],
                        help="with --clauses: compare these values of nlu.triage.CLAUSE_CONFIDENCE")
    parser.add_argument("--C", type=float, nargs="+", default=[Setting.C])
    parser.add_argument("--real-weight", type=float, nargs="+", default=[1.0])
    parser.add_argument("--class-weight", nargs="+", default=["balanced"])
    parser.add_argument("--min-df", type=int, nargs="+", default=[Setting.min_df])
    parser.add_argument("--tol", type=float, nargs="+", default=[Setting.tol],
                        help="the classifier's: the solver's stopping tolerance (the training-time budget)")
    parser.add_argument("--class-threshold", type=float, nargs="+", default=[CLASS_THRESHOLD],
                        help="TriageFallbackClassifier's: the share of the ranking a triage class needs to be answered")
    parser.add_argument("--theft-share", type=float, nargs="+", default=[THEFT_SHARE],
                        help="TriageFallbackClassifier's: the share from which the theft class is answered")
    parser.add_argument("--by-repository", action="store_true",
                        help="folds by repository instead of thread: scores on repositories never trained on")
    parser.add_argument("--neighbours-weight", type=float, nargs="+", default=[Setting.neighbours_weight],
                        help="the classifier's: the share of the nearest-neighbour vote on sentence embeddings")
    args = parser.parse_args()
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    examples = training_examples()
    model = args.model or latest_model()
    if args.clauses:
        lines = ["| decision | triage | triage zh | theft recall | theft precision | oos handled | fine |",
                 "|---|---|---|---|---|---|---|"]
        for label, s in clause_triage_scores(examples, FeatureCapture(model),
                                             clause_confidences=args.clause_confidence,
                                             by_repository=args.by_repository).items():
            lines.append(f"| {label} | {s['triage']:.3f} | {s['triage_zh']:.3f} | {s['theft_recall']:.3f} | "
                         f"{s['theft_precision']:.3f} | {s['oos_handled']:.3f} | {s['fine']:.3f} |")
        print("\n".join(lines))
        return
    X, dense_width = training_features(model, examples)
    print(f"{len(examples)} training examples, {sum(e.group is not None for e in examples)} real "
          f"from {len({e.group for e in examples if e.group})} threads; {X.shape[1]} features")
    lines = [f"# Grouped cross-validation on the training data ({model.name})", "",
             f"{len(examples)} training examples; {sum(e.group is not None for e in examples)} real users' messages "
             f"from {len({e.group for e in examples if e.group})} threads, in 5 folds by "
             f"{'repository' if args.by_repository else 'thread'} (synthetic data always "
             "in training). Scored as `bench.nlu_real` scores the held-out split, without the clause triage. "
             "Written by `python -m bench.nlu_cv`; the held-out split is not used.", "",
             "| setting | triage | triage zh | theft recall | theft precision | oos handled | fine |",
             "|---|---|---|---|---|---|---|"]
    print("\n".join(lines))
    for C, weight, class_weight, threshold, theft_share, min_df, tol, neighbours in itertools.product(
            args.C, args.real_weight, args.class_weight, args.class_threshold, args.theft_share, args.min_df,
            args.tol, args.neighbours_weight):
        setting = Setting(C=C, real_weight=weight, class_weight=None if class_weight == "none" else class_weight,
                          class_threshold=threshold, theft_share=theft_share, min_df=min_df, tol=tol,
                          neighbours_weight=neighbours)
        # With the model's English sentence embeddings, and (to show what they add) without them.
        variants = [("", X, dense_width)]
        if dense_width:
            variants.append((", without sentence features", X[:, :X.shape[1] - dense_width].tocsr(), 0))
        for suffix, features, width in variants:
            s = cross_validate(setting, examples, features, dense_width=width, by_repository=args.by_repository)
            lines.append(f"| {setting.label()}{suffix} | {s['triage']:.3f} | {s['triage_zh']:.3f} | "
                         f"{s['theft_recall']:.3f} | {s['theft_precision']:.3f} | {s['oos_handled']:.3f} | "
                         f"{s['fine']:.3f} |")
            print(lines[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
