"""Reply in the user's language: Simplified Chinese or English.

Loaded by Rasa from ``endpoints.yml`` (``nlg: type: rasa_server.nlg.BilingualNLG``).
Responses keep Rasa's standard form: a Chinese default variation plus an English
one under ``condition: language = en``. This generator fills the ``language``
slot virtually for each reply from the latest user message that shows a
language, so no extra slot event, entity or action-server call is needed.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from settings import get_settings
from safety.text import reply_language

LANGUAGE_SLOT = "language"


def _user_texts_newest_first(tracker: DialogueStateTracker) -> Iterator[str]:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered) and event.text:
            yield event.text


class BilingualNLG(TemplatedNaturalLanguageGenerator):
    """TemplatedNaturalLanguageGenerator that chooses the zh/en variation per reply."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
    ) -> None:
        super().__init__(domain.responses if domain else {})
        self.default_language = get_settings().default_language

    def language_for(self, tracker: DialogueStateTracker) -> str:
        return reply_language(_user_texts_newest_first(tracker), self.default_language)

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        filled_slots = tracker.current_slot_values()
        filled_slots[LANGUAGE_SLOT] = self.language_for(tracker)
        return self.generate_from_slots(utter_action, filled_slots, output_channel, **kwargs)
