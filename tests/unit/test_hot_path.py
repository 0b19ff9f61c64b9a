"""The compiled action-result validator accepts and refuses exactly what stock Rasa does (rasa_server/hot_path.py)."""

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from rasa_server import hot_path

VALID = [
    {},
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "chain", "value": "TRON"}, {"event": "followup", "name": "action_listen"}],
     "responses": [{"text": "你好"}, {"response": "utter_greet", "buttons": []}]},
]
INVALID = [
    [],
    {"events": {"event": "slot"}},
    {"events": [{"name": "chain"}]},
    {"events": [{"event": "slot", "name": 3}]},
    {"responses": ["just a string"]},
    {"responses": {"text": "not a list"}},
]


def stock_error(result):
    """What Rasa 3.6's own jsonschema.validate call raises for this result, or None."""
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError as error:
        return error
    return None


@pytest.fixture
def action():
    hot_path.install()
    return RemoteAction("action_answer_faq", None)


@pytest.mark.parametrize("result", VALID)
def test_valid_answers_pass_as_in_stock_rasa(action, result):
    assert stock_error(result) is None
    assert action._validate_action_result(result) is True


@pytest.mark.parametrize("result", INVALID)
def test_invalid_answers_raise_the_same_error_with_the_same_hint(action, result):
    expected = stock_error(result)
    assert expected is not None
    with pytest.raises(jsonschema.ValidationError) as raised:
        action._validate_action_result(result)
    assert raised.value.message.startswith(expected.message + ". Failed to validate Action server response")
    assert "/custom-actions" in raised.value.message
    assert list(raised.value.path) == list(expected.path)


def test_the_schema_is_checked_and_compiled_once(action):
    assert RemoteAction._validate_action_result is hot_path.validate_action_result
    assert hot_path.action_result_validator() is hot_path.action_result_validator()
