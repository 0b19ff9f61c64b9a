"""Rasa's ``SpacyNLP`` without its pass over the training data.

Rasa runs ``SpacyNLP.process_training_data`` during every training: it parses each
training example with spaCy and stores the doc on it, for spaCy featurizers and
trainable extractors to read. This pipeline has neither: intents are classified on
jieba tokens, and ``SpacyEntityExtractor`` only runs at parse time on the message in
hand. The pass cost 7 to 18 s of a training whose budget is 3 minutes
(results/nlu_cv.md, round 13).

The class keeps Rasa's name on purpose: Rasa wires ``SpacyEntityExtractor`` (and
``nlu.entity_patterns.EntityValueCanonicalizer``) to their model provider by the
provider's class name (``model_from="SpacyNLP"``). Naming it in config.yml by its
module path (``nlu.spacy_loader.SpacyNLP``) registers it in place of Rasa's class.
Parsing (``process``) is Rasa's, unchanged.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.utils import spacy_utils
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.training_data.training_data import TrainingData


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MODEL_LOADER, DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
    is_trainable=False,
    model_from="SpacyNLP",
)
class SpacyNLP(spacy_utils.SpacyNLP):
    """Loads and shares the spaCy model as Rasa's does; leaves the training data unparsed (nothing trains on it)."""

    def process_training_data(self, training_data: TrainingData, model: SpacyModel) -> TrainingData:
        return training_data
