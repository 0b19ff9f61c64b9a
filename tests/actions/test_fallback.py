"""The gateway's answers when the action server cannot answer (answers/fallback.py); the servers test the rest."""

import asyncio

from answers.fallback import ActionFallback
from deskapi.outbox import EscalationOutbox


def request(next_action, intent, text="x", slots=None):
    return {"next_action": next_action, "sender_id": "u1", "tracker": {
        "sender_id": "u1", "slots": slots or {}, "events": [{"event": "user", "text": text}],
        "latest_message": {"text": text, "intent": {"name": intent}, "entities": []}}}


def answer(tmp_path, body):
    return asyncio.run(ActionFallback(EscalationOutbox(tmp_path / "outbox.db")).answer(body))


def test_a_faq_question_gets_its_curated_answer(tmp_path):
    assert answer(tmp_path, request("action_answer_faq", "gas_fee")) == {"events": [], "responses": [{"response": "utter_gas_fee"}]}


def test_a_form_answer_is_taken_as_extracted(tmp_path):
    body = request("validate_transfer_details_form", "inform", "TRON", slots={"requested_slot": "chain", "chain": "TRON"})
    assert answer(tmp_path, body)["events"] == [{"event": "slot", "name": "chain", "value": "TRON", "timestamp": None}]


def test_anything_else_gets_the_honest_unavailable_answer(tmp_path):
    assert answer(tmp_path, request("action_clarify", "nlu_fallback"))["responses"] == [{"response": "utter_service_degraded"}]
    assert answer(tmp_path, request("action_answer_faq", "suspected_theft"))["responses"] == [{"response": "utter_service_degraded"}]


def test_a_transaction_lookup_without_the_action_server_gets_the_curated_answer(tmp_path):
    said = answer(tmp_path, request("action_lookup_transaction", "deposit_not_received"))
    assert said["responses"] == [{"response": "utter_deposit_not_received"}]
    assert [(e["name"], e["value"]) for e in said["events"]] == [("tx_reference", None)]
