"""A bounded cache of the policies' next-action predictions by dialogue state, per loaded model (issue #21).

Under a flood the Rasa worker spent about 40 % of its time predicting the next
action (results/profile.md): RulePolicy and MemoizationPolicy featurise the
whole conversation into states and match them against every rule, for every
action of every turn. Yet a flood is a few hundred conversations that look
alike: a new session, one FAQ question, its answer, listen. The prediction is
a function of the model and of what the policies read from the tracker, so it
is kept here:

* **Key** (:func:`state_key`): every applied event the policies can see, in the
  form they see it: a user turn as its intent and entity types (its text only
  when it has no intent, as the featuriser does), whether its text is used for
  featurisation; an action as its name or text and whether it hides a rule turn;
  a slot as its name and value; every other event (loops, rejections, restarts,
  session starts, featurisation switches) whole, without its timestamp and
  metadata. Bot messages are left out: no policy reads them. A user's text is left
  out when the turn has an intent because no story or rule here is written with user
  text (end-to-end); RulePolicy would match text only against such rules
  (``tests/rasa_server/test_prediction_cache.py`` checks there are none). A conversation
  with a follow-up action is never cached (Rasa answers it without the policies).
* **What is cached**: the ensemble's ``PolicyPrediction``; callers get a copy whose
  events (RulePolicy's ``DefinePrevUserUtteredFeaturization``, say) carry a fresh
  timestamp, as newly predicted ones would.
* **Invalidation**: one cache per ``MessageProcessor``, so a reloaded model
  (``PUT /model``) starts empty.
* **Bounds**: ``max_entries`` predictions, least recently used dropped first.

Off with ``RASA_OPTIMISATIONS=off`` or ``PREDICTION_CACHE_SIZE=0`` (settings.yml →
``performance``). ``tests/rasa_server/test_prediction_cache.py`` checks that every
dialogue state of the training stories and rules gets the same prediction from
the cache as from the policies, and that no two states sharing a key are
predicted differently.
"""

from __future__ import annotations

import json
import time
from typing import Any, Hashable, Optional, Tuple

from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT

from rasa_server.model_cache import ModelCache, on_processor

_DROPPED_FIELDS = ("timestamp", "metadata")


def _frozen(value: Any) -> Hashable:
    """A hashable, order-stable form of a JSON-like value."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _event_part(event: Any) -> Optional[Tuple[Any, ...]]:
    if isinstance(event, BotUttered):
        return None
    if isinstance(event, UserUttered):
        sub = event.as_sub_state()
        text = None if sub.get(INTENT) else sub.get(TEXT)
        return ("user", sub.get(INTENT), tuple(sub.get(ENTITIES) or ()), text, event.use_text_for_featurization)
    if isinstance(event, ActionExecuted):
        return ("action", event.action_name, event.action_text, bool(event.hide_rule_turn))
    if isinstance(event, SlotSet):
        return ("slot", event.key, _frozen(event.value))
    data = {k: v for k, v in event.as_dict().items() if k not in _DROPPED_FIELDS}
    return (event.type_name, _frozen(data))


def state_key(tracker: Any) -> Tuple[Any, ...]:
    """What the policies read from ``tracker``, as a hashable key (see the module docstring)."""
    parts = [_event_part(event) for event in tracker.applied_events()]
    return (tracker.active_loop_name, tuple(p for p in parts if p is not None))


class PredictionCache(ModelCache):
    """Least-recently-used predictions by dialogue-state key."""

    def get(self, key: Hashable) -> Optional[Any]:
        """A private copy of the prediction kept for ``key``, its events stamped now; or None."""
        prediction = super().get(key)
        if prediction is not None:
            now = time.time()
            for event in list(prediction.events or []) + list(prediction.optional_events or []):
                event.timestamp = now
        return prediction


def for_processor(processor: Any, max_entries: int) -> Optional[PredictionCache]:
    """The cache of this processor (and so of its model); None when caching is off."""
    return on_processor(processor, "_wallet_prediction_cache", max_entries, PredictionCache)
