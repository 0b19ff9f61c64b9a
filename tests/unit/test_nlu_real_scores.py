"""bench.nlu_real's scores: each in-scope class's recall, and whether a question offers the user's own topic."""

import pytest

from bench.nlu_real import RealExample, RealPrediction, score
from nlu.gating import FALLBACK


def prediction(intent: str, predicted: str, offered=()) -> RealPrediction:
    example = RealExample({"id": "x", "url": "https://example.com/t/1", "lang": "en", "intent": intent, "text": "t"})
    return RealPrediction(example, predicted, 0.9, tuple(offered))


def test_each_in_scope_class_has_its_own_recall():
    scores = score([
        prediction("stuck_transaction", "deposit_not_received"),  # the same class: right
        prediction("failed_transaction", FALLBACK),  # asked: wrong for triage
        prediction("app_connectivity", "app_connectivity"),
        prediction("app_connectivity", "gas_fee"),
        prediction("create_wallet", "import_wallet"),
        prediction("out_of_scope", FALLBACK),
    ])
    assert scores["transaction_recall"] == pytest.approx(0.5)
    assert scores["app_recall"] == pytest.approx(0.5)
    assert scores["wallet_setup_recall"] == pytest.approx(1.0)
    assert scores["other_faq_recall"] != scores["other_faq_recall"]  # no such message: nan, not 0


def test_asked_intent_offered_counts_in_scope_questions_whose_buttons_hold_the_users_intent():
    scores = score([
        prediction("stuck_transaction", FALLBACK, ["deposit_not_received", "stuck_transaction"]),
        prediction("stuck_transaction", FALLBACK, ["deposit_not_received"]),  # the class, not the intent
        prediction("app_connectivity", FALLBACK, []),
        prediction("app_connectivity", "app_connectivity"),  # answered: not a question
        prediction("out_of_scope", FALLBACK, ["gas_fee"]),  # out of scope: not counted
    ])
    assert scores["in_scope_fallback_rate"] == pytest.approx(3 / 4)
    assert scores["asked_intent_offered"] == pytest.approx(1 / 3)
