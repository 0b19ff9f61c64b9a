"""Custom Rasa 3.6 NLU components for Chinese wallet-support messages.

* ``TextNormalizer`` (first in the pipeline): Traditional -> Simplified,
  full-width -> half-width, control characters blanked, all length-preserving,
  so one model serves both scripts and entity offsets stay valid.
* ``WalletJiebaTokenizer``: Rasa's JiebaTokenizer without the whitespace-only
  tokens jieba emits for mixed text such as "我的usdt一直pending" (RasaHQ/rasa#7910),
  and with the user dictionary's content in the model fingerprint.
* ``TheftGuard`` (after the intent classifier, before FallbackClassifier):
  forces ``suspected_theft`` on unambiguous, non-negated theft words, and
  ``secret_exposed`` when the channel redacted a pasted secret (its marker is
  in the text): the user must be warned whatever else they wrote.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from safety.redaction import MARKERS
from safety.text import normalize_for_nlu
from nlu.code_fingerprint import with_code
from nlu.theft_guard import find_theft_signal

logger = logging.getLogger(__name__)

THEFT_INTENT = "suspected_theft"
SECRET_INTENT = "secret_exposed"
THEFT_GUARD_KEY = "theft_guard"
FORCED_OTHERS_SCALE = 0.5


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class TextNormalizer(GraphComponent):
    """Rewrites the message text into the normalised form the model is trained on."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TextNormalizer:
        return cls()

    @staticmethod
    def _normalize(message: Message) -> None:
        text = message.get(TEXT)
        if isinstance(text, str) and text:
            message.set(TEXT, normalize_for_nlu(text))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalize(message)
        return messages


class WalletToken(Token):
    """Rasa's Token, hashed once instead of once per pipeline node.

    After every node Rasa's training graph fingerprints the whole training data
    (``rasa.engine.training.hooks.TrainingHook``), and each message's fingerprint hashes
    every token again: about 5 s per node on rounds 11-12's data. The hash is kept until
    the token changes through ``set`` (the only way Rasa's components change a token).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fingerprint: Optional[Text] = None

    def set(self, prop: Text, info: Any) -> None:
        self._fingerprint = None
        super().set(prop, info)

    def fingerprint(self) -> Text:
        if self._fingerprint is None:
            self._fingerprint = super().fingerprint()
        return self._fingerprint


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class WalletJiebaTokenizer(JiebaTokenizer):
    """JiebaTokenizer that never emits empty or whitespace-only tokens."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Retrain when the user dictionary changes, not only when its path does (and when the code does)."""
        path = config.get("dictionary_path")
        if not path or not Path(path).is_dir():
            return with_code(None)
        digest = hashlib.sha256()
        for file in sorted(Path(path).glob("*")):
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
        return with_code(digest.hexdigest())

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        import jieba

        text = message.get(attribute) or ""
        tokens = [
            WalletToken(word.strip(), start + (len(word) - len(word.lstrip())))
            for (word, start, _end) in jieba.tokenize(text)
            if word.strip()
        ]
        return self._apply_token_pattern(tokens)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class TheftGuard(GraphComponent):
    """Overrides the predicted intent with ``suspected_theft`` on clear theft words."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TheftGuard:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._guard(message)
        return messages

    @staticmethod
    def _force(message: Message, intent: Text) -> None:
        predicted = message.get(INTENT) or {}
        if predicted.get("name") == intent and predicted.get("confidence") == 1.0:
            return
        # Also when the model already leans to it: at low confidence the FallbackClassifier
        # after this guard would turn a theft report into a clarifying question.
        logger.info("TheftGuard set intent %r (model: %r at %s)", intent, predicted.get("name"), predicted.get("confidence"))
        # The others keep their order but at most half their confidence: left as they were, a model
        # sure of another intent (0.97) makes the forced 1.0 "ambiguous" to the FallbackClassifier
        # (ambiguity_threshold), and the theft victim would get a clarifying question.
        ranking = [{**r, "confidence": float(r.get("confidence") or 0.0) * FORCED_OTHERS_SCALE}
                   for r in (message.get(INTENT_RANKING_KEY) or []) if r.get("name") != intent]
        top = {"name": intent, "confidence": 1.0}
        message.set(INTENT, top, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [top] + ranking, add_to_output=True)

    @classmethod
    def _guard(cls, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str):
            return
        if any(marker in text for marker in MARKERS.values()):
            cls._force(message, SECRET_INTENT)
            return
        signal = find_theft_signal(text)
        if signal is None:
            return
        message.set(THEFT_GUARD_KEY, {"word": signal.word, "start": signal.start}, add_to_output=True)
        cls._force(message, THEFT_INTENT)
