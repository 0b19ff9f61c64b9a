"""Rasa's sparse featurizers, keeping only the sentence row the classifier reads.

``NormalizedLogisticRegressionClassifier`` (``nlu/classifiers.py``) reads only the
sentence features of a message. Rasa's ``CountVectorsFeaturizer`` and ``RegexFeaturizer``
also attach a sequence matrix (one row per token), and after every featurizer Rasa's
training graph fingerprints the whole training data, turning each sparse matrix into
text (``rasa.shared.nlu.training_data.util.sparse_matrix_to_string``): seconds of every
training for matrices nothing here reads.

These subclasses build the vocabulary and the features exactly as Rasa does and attach
only the sentence row. A pipeline that needs sequence features (DIET, CRF entities) uses
Rasa's own classes instead (``bench/nlu_bench.py`` swaps them back for its DIET variant).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse as sp
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from rasa.shared.nlu.training_data.message import Message

from nlu.code_fingerprint import CodeFingerprinted

# Names in config.yml, and the Rasa classes they stand for (for pipelines that need sequences).
SENTENCE_ONLY_TO_STOCK: Dict[Text, Text] = {
    "nlu.featurizers.SentenceCountVectorsFeaturizer": "CountVectorsFeaturizer",
    "nlu.featurizers.SentenceRegexFeaturizer": "RegexFeaturizer",
}


class SentenceFeaturesOnly:
    """Mixin for a Rasa sparse featurizer: drop the sequence matrix, keep the sentence row."""

    def add_features_to_message(self, sequence: Any, sentence: Optional[Any], attribute: Text,
                                message: Message) -> None:
        super().add_features_to_message(None, sentence, attribute, message)  # type: ignore[misc]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceCountVectorsFeaturizer(CodeFingerprinted, SentenceFeaturesOnly, CountVectorsFeaturizer):
    """Rasa's CountVectorsFeaturizer (same options), sentence features only.

    Rasa's version vectorises each message twice, one message at a time: its tokens (the
    sequence matrix the mixin then drops) and their joined text (the sentence row): 13.6 s of
    every training for the word and character n-gram featurizers on round 14's data, and
    again for every message parsed. Here (5.2 s) the sentence rows of all the messages given
    are one ``transform`` of their joined texts: row for row the matrix Rasa builds for
    each message alone (the same counts, column order and dtype; tests/unit/test_featurizers.py).
    """

    def _sentence_rows(self, attribute: Text, all_tokens: List[List[Text]]) -> List[Optional[sp.coo_matrix]]:
        """Each token list's sentence row (None without tokens, or for an attribute Rasa gives no sentence row),
        from one transform of the joined lists."""
        rows: List[Optional[sp.coo_matrix]] = [None] * len(all_tokens)
        vectorizer = self.vectorizers.get(attribute)
        present = [i for i, tokens in enumerate(all_tokens) if tokens]
        if not vectorizer or attribute not in DENSE_FEATURIZABLE_ATTRIBUTES or not present:
            return rows
        matrix = vectorizer.transform([" ".join(all_tokens[i]) for i in present])
        matrix.sort_indices()
        for row, i in enumerate(present):
            rows[i] = matrix[row].tocoo()
        return rows

    def process(self, messages: List[Message]) -> List[Message]:
        """The sentence rows of all ``messages`` at once, per attribute (Rasa's ``_create_features``: message by
        message, with the sequence matrices)."""
        if self.vectorizers is None:
            return super().process(messages)  # Rasa's message: not trained
        for attribute in self._attributes:
            tokens = [self._get_processed_message_tokens_by_attribute(m, attribute) for m in messages]
            for message, sentence in zip(messages, self._sentence_rows(attribute, tokens)):
                self.add_features_to_message(None, sentence, attribute, message)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceRegexFeaturizer(CodeFingerprinted, SentenceFeaturesOnly, RegexFeaturizer):
    """Rasa's RegexFeaturizer (same options), sentence features only.

    Rasa's version also marks every token with the patterns it matched (for the CRF entity
    extractor, not in this pipeline); the mark changes every token, so the training graph
    hashed them all again (about 6 s). The sentence row is computed as Rasa computes it: a
    pattern is on when one of its matches overlaps a token.
    """

    def _features_for_patterns(self, message: Message, attribute: Text) -> Tuple[None, Optional[sp.coo_matrix]]:
        text = message.get(attribute)
        tokens = message.get(TOKENS_NAMES[attribute], [])
        if not text or not tokens:
            return None, None
        flags = 0 if self.case_sensitive else re.IGNORECASE
        sentence = np.zeros([1, len(self.known_patterns)])
        for index, pattern in enumerate(self.known_patterns):
            for match in re.finditer(pattern["pattern"], text, flags=flags):
                if any(t.start < match.end() and t.end > match.start() for t in tokens):
                    sentence[0][index] = 1.0
                    break
        return None, sp.coo_matrix(sentence)
