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


def test_event_types_resolve_as_in_stock_rasa():
    from rasa.shared.core.events import Event, SlotSet, UserUttered
    from rasa.shared.utils.common import all_subclasses

    names = {cls.type_name for cls in all_subclasses(Event)}
    assert {"user", "bot", "action", "slot", "active_loop", "session_started"} <= names
    for name in names:
        assert hot_path.resolve_event_type(name) is hot_path._STOCK_RESOLVE(name)
    assert hot_path.resolve_event_type("topic") is None
    assert hot_path.resolve_event_type("no_such_event", SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        hot_path.resolve_event_type("no_such_event")
    hot_path.install()
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.from_parameters({"event": "slot", "name": "chain", "value": "TRON"}) == SlotSet("chain", "TRON")
