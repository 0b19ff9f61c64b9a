"""TriageFallbackClassifier: asks like Rasa's FallbackClassifier, unless one triage class is clearly meant."""

import pytest
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu.fallback import TRIAGE_RESCUE_KEY, TriageFallbackClassifier, clear_class_intent


def parsed(*ranking):
    entries = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    return Message(data={TEXT: "提币两天了还没到，一直显示处理中", INTENT: dict(entries[0]), INTENT_RANKING_KEY: entries})


def classify(message, class_threshold=0.6):
    config = {**TriageFallbackClassifier.get_default_config(), "threshold": 0.4, "ambiguity_threshold": 0.1,
              "class_threshold": class_threshold}
    TriageFallbackClassifier(config).process([message])
    return message.get(INTENT)["name"]


def test_sibling_intents_sharing_the_probability_keep_the_best_of_their_class():
    message = parsed(("deposit_not_received", 0.38), ("stuck_transaction", 0.33), ("app_connectivity", 0.1))
    assert classify(message) == "deposit_not_received"
    assert message.get(TRIAGE_RESCUE_KEY) == {"class": "transaction", "mass": 0.71}
    # Rasa's FallbackClassifier would have asked (0.38 < 0.4): the component is what changed it.
    assert classify(parsed(("deposit_not_received", 0.38), ("stuck_transaction", 0.33)), class_threshold=1.1) \
        == "nlu_fallback"


def test_a_spread_ranking_still_falls_back():
    message = parsed(("deposit_not_received", 0.3), ("app_connectivity", 0.25), ("create_wallet", 0.2))
    assert classify(message) == "nlu_fallback"
    assert message.get(TRIAGE_RESCUE_KEY) is None


@pytest.mark.parametrize("ranking", [
    [("out_of_scope", 0.35), ("greet", 0.3)],  # unsure off-topic stays a clarifying question
    [("give_rating", 0.35), ("affirm", 0.3), ("create_wallet", 0.1)],  # answer intents count for no class
])
def test_out_of_scope_and_answer_intents_are_never_rescued(ranking):
    assert classify(parsed(*ranking)) == "nlu_fallback"


def test_a_sure_prediction_is_left_as_it_is():
    message = parsed(("create_wallet", 0.9), ("import_wallet", 0.05))
    assert classify(message) == "create_wallet"
    assert message.get(TRIAGE_RESCUE_KEY) is None


def test_the_rescued_intent_is_the_best_of_the_class_even_if_another_class_tops_the_ranking():
    ranking = [{"name": "app_connectivity", "confidence": 0.35}, {"name": "stuck_transaction", "confidence": 0.32},
               {"name": "failed_transaction", "confidence": 0.3}]
    assert clear_class_intent(ranking, 0.6)["name"] == "stuck_transaction"
