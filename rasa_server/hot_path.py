"""Per-message work stock Rasa 3.6 repeats for nothing, done once instead (issue #8).

Profiling the Rasa process under 32 concurrent conversations (py-spy, see
``results/bench.md``) showed about 58 % of its CPU in one line:
``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, which
first validates the *schema* against the JSON-Schema meta-schema and builds a
new validator, for every custom action of every message. The schema is a
constant. :func:`install` replaces that method with one that checks the schema
once and reuses a compiled validator; the answers it accepts and the errors it
raises (the same best-match error, with the same hint appended) are unchanged.

The same for events: every event read from the tracker store (and every event an
action answers) is turned into its class by ``Event.resolve_by_type``, which walks
the whole tree of ``Event`` subclasses, with an ``inspect.isabstract`` per class, to
find one name. :func:`resolve_event_type` looks the name up in a table of that same
walk, built again only for a name it does not know.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Optional, Text, Type

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses
from rasa.shared.constants import DOCS_BASE_URL

_HINT = (". Failed to validate Action server response from API, make sure your response from the Action "
         f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions")


@lru_cache(maxsize=1)
def action_result_validator() -> Any:
    """The validator for action server answers, built (and its schema checked) once per process."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(_action: RemoteAction, result: Dict[Text, Any]) -> bool:
    """What ``jsonschema.validate`` does after its schema check: raise the best-matching error, if any."""
    error = exceptions.best_match(action_result_validator().iter_errors(result))
    if error is not None:
        error.message += _HINT
        raise error
    return True


_STOCK_RESOLVE = Event.resolve_by_type
_EVENT_TYPES: Dict[str, Type[Event]] = {}


def _event_types() -> Dict[str, Type[Event]]:
    """Type name → class, first match in the order stock Rasa walks the subclasses."""
    table: Dict[str, Type[Event]] = {}
    for cls in all_subclasses(Event):
        table.setdefault(cls.type_name, cls)
    return table


def resolve_event_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """``Event.resolve_by_type`` from a table; an unknown name rebuilds it (a subclass imported since)."""
    found = _EVENT_TYPES.get(type_name)
    if found is None:
        _EVENT_TYPES.clear()
        _EVENT_TYPES.update(_event_types())
        found = _EVENT_TYPES.get(type_name)
    if found is not None:
        return found
    return _STOCK_RESOLVE(type_name, default)  # "topic", the default, or stock Rasa's error


def install() -> None:
    """Use the compiled validator and the event table in this process (idempotent)."""
    action_result_validator()
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[assignment]
    Event.resolve_by_type = staticmethod(resolve_event_type)  # type: ignore[assignment]

