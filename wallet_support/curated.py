"""Curated texts for places outside the dialogue (HTTP errors of our channels).

They live in ``domain/`` with every other user-visible text; this reads them
once so a channel can answer without a round trip through Rasa.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Dict

from wallet_support.settings import PROJECT_ROOT


@lru_cache(maxsize=None)
def _responses() -> Dict[str, list]:
    from rasa.shared.core.domain import Domain

    return Domain.load(str(PROJECT_ROOT / "domain")).responses


def bilingual(response: str) -> Dict[str, str]:
    """``{"zh": ..., "en": ...}`` for a response of the domain."""
    texts = {}
    for variation in _responses()[response]:
        conditions = variation.get("condition") or []
        language = next((c.get("value") for c in conditions if c.get("name") == "language"), "zh")
        texts.setdefault(language, variation["text"])
    return texts
