"""A bounded cache of NLU parses by message text, per loaded model (issue #21).

In an outage flood most messages are a handful of questions in a few hundred
phrasings, and the NLU parse (normaliser, jieba, spaCy, featurisers, our
classifier, then clause triage) was about 37 % of each Rasa process's CPU at
128 concurrent conversations (results/profile.md). That part of the parse is a
function of the message text and the model alone, so it is kept here:

* **Key**: the text exactly as Rasa received it, i.e. after the input gate
  (``channels/input_gate.py``) cleaned and redacted it. Redaction and the
  split-phrase check therefore still run on every message, before this cache
  is asked; a hidden secret is only ever cached as its marker. The key is not
  normalised further (case, spaces, width): the parse carries the text and
  entity offsets into it, so two spellings sharing a parse could answer
  differently. The NLU pipeline's own normaliser already maps those spellings
  to one set of features; the cache only skips repeating that work.
* **What is cached**: Rasa's parse plus clause triage. Dialogue-state gating
  (``nlu/gating.py``) depends on the conversation, so it runs on every
  message, on a copy of the cached parse.
* **Invalidation**: one cache per ``MessageProcessor``. ``PUT /model`` builds a
  new agent with a new processor, so a reloaded model starts empty and never
  sees the old model's parses.
* **Bounds**: ``max_entries`` parses, least recently used dropped first; texts
  longer than ``max_text_chars`` are never cached (they rarely repeat).

Switched off with ``RASA_OPTIMISATIONS=off`` or ``PARSE_CACHE_SIZE=0``
(settings.yml → ``performance``); ``tests/rasa_server/test_optimisations_same_answers.py``
shows the answers are the same either way.
"""

from __future__ import annotations

from typing import Any, Dict, Hashable, Optional, Text

from rasa_server.model_cache import ModelCache, on_processor

ParseData = Dict[Text, Any]


class ParseCache(ModelCache):
    """Least-recently-used parses by key, bounded in entries and in text length."""

    def __init__(self, max_entries: int, max_text_chars: int = 300) -> None:
        super().__init__(max_entries)
        self.max_text_chars = int(max_text_chars)

    def cacheable(self, text: Any) -> bool:
        return self.max_entries > 0 and isinstance(text, str) and len(text) <= self.max_text_chars

    def put(self, key: Hashable, text: Any, parse: ParseData) -> None:
        """Keep a copy of ``parse`` for ``key`` when ``text`` is cacheable, dropping the least recently used."""
        if self.cacheable(text):
            self.keep(key, parse)


def for_processor(processor: Any, max_entries: int) -> Optional[ParseCache]:
    """The cache of this processor (and so of its model); None when caching is off."""
    return on_processor(processor, "_wallet_parse_cache", max_entries, ParseCache)
