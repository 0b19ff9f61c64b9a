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

import copy
import threading
from collections import OrderedDict
from typing import Any, Dict, Hashable, Optional, Text

ParseData = Dict[Text, Any]


class ParseCache:
    """Least-recently-used parses by key, bounded in entries and in text length."""

    def __init__(self, max_entries: int, max_text_chars: int = 300) -> None:
        self.max_entries = max(0, int(max_entries))
        self.max_text_chars = int(max_text_chars)
        self._entries: "OrderedDict[Hashable, ParseData]" = OrderedDict()
        self._lock = threading.Lock()  # Rasa parses on its event loop; the lock only guards odd callers
        self.hits = 0
        self.misses = 0

    def cacheable(self, text: Any) -> bool:
        return self.max_entries > 0 and isinstance(text, str) and len(text) <= self.max_text_chars

    def get(self, key: Hashable) -> Optional[ParseData]:
        """A private copy of the parse kept for ``key`` (the caller may change it), or None."""
        with self._lock:
            cached = self._entries.get(key)
            if cached is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return copy.deepcopy(cached)

    def put(self, key: Hashable, text: Any, parse: ParseData) -> None:
        """Keep a copy of ``parse`` for ``key`` when ``text`` is cacheable, dropping the least recently used."""
        if not self.cacheable(text):
            return
        kept = copy.deepcopy(parse)
        with self._lock:
            self._entries[key] = kept
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> Dict[str, int]:
        return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses}


_ATTRIBUTE = "_wallet_parse_cache"


def for_processor(processor: Any, max_entries: int) -> Optional[ParseCache]:
    """The cache of this processor (and so of its model); None when caching is off."""
    if max_entries <= 0:
        return None
    cache = getattr(processor, _ATTRIBUTE, None)
    if cache is None:
        cache = ParseCache(max_entries)
        setattr(processor, _ATTRIBUTE, cache)
    return cache
