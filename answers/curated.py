"""Curated texts for places outside the dialogue (HTTP errors of our channels).

They live in ``domain/`` with every other user-visible text; this reads them
once so a channel can answer without a round trip through Rasa.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Optional

from settings import PROJECT_ROOT


@lru_cache(maxsize=None)
def _responses() -> Dict[str, list]:
    from rasa.shared.core.domain import Domain

    return Domain.load(str(PROJECT_ROOT / "domain")).responses


def variation_language(variation: Dict[str, Any]) -> Optional[str]:
    """The ``language`` a response variation is conditioned on; None for the default (zh)."""
    for condition in variation.get("condition") or []:
        if condition.get("name") == "language":
            return condition.get("value")
    return None


def bilingual(response: str) -> Dict[str, str]:
    """``{"zh": ..., "en": ...}`` for a response of the domain."""
    texts: Dict[str, str] = {}
    for variation in _responses()[response]:
        texts.setdefault(variation_language(variation) or "zh", variation["text"])
    return texts
