"""Per-message work stock Rasa 3.6 repeats for nothing, done once instead (issue #8).

Profiling the Rasa process under 32 concurrent conversations (py-spy, see
``results/bench.md``) showed about 58 % of its CPU in one line:
``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, which
first validates the *schema* against the JSON-Schema meta-schema and builds a
new validator, for every custom action of every message. The schema is a
constant. :func:`install` replaces that method with one that checks the schema
once and reuses a compiled validator; the answers it accepts and the errors it
raises (the same best-match error, with the same hint appended) are unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Text

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction
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


def install() -> None:
    """Use the compiled validator in this process (idempotent)."""
    action_result_validator()
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[assignment]

