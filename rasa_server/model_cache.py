"""A bounded least-recently-used cache of deep copies, kept on a loaded model's processor.

The parse cache (``parse_cache``) and the prediction cache (``prediction_cache``)
both keep what a model computed, so both live on the ``MessageProcessor``: a
reloaded model (``PUT /model``) gets a new processor and starts empty. Callers
get private copies, since Rasa changes parses and predictions in place.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, Optional, TypeVar


class ModelCache:
    """Least-recently-used values by key, at most ``max_entries`` of them; values go in and out as copies."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max(0, int(max_entries))
        self._entries: "OrderedDict[Hashable, Any]" = OrderedDict()
        self._lock = threading.Lock()  # Rasa runs on its event loop; the lock only guards odd callers
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Optional[Any]:
        """A private copy of the value kept for ``key`` (the caller may change it), or None."""
        with self._lock:
            cached = self._entries.get(key)
            if cached is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return copy.deepcopy(cached)

    def keep(self, key: Hashable, value: Any) -> None:
        """Keep a copy of ``value`` for ``key``, dropping the least recently used beyond the bound."""
        kept = copy.deepcopy(value)
        with self._lock:
            self._entries[key] = kept
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> Dict[str, int]:
        return {"entries": len(self._entries), "hits": self.hits, "misses": self.misses}


CacheType = TypeVar("CacheType", bound=ModelCache)


def on_processor(processor: Any, attribute: str, max_entries: int,
                 make: Callable[[int], CacheType]) -> Optional[CacheType]:
    """The cache kept on ``processor`` under ``attribute`` (made on first use); None when ``max_entries`` is 0."""
    if max_entries <= 0:
        return None
    cache = getattr(processor, attribute, None)
    if cache is None:
        cache = make(max_entries)
        setattr(processor, attribute, cache)
    return cache
