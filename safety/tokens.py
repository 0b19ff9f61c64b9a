"""Shared-secret checks between our services and channels, in one place."""

from __future__ import annotations

import hmac
from typing import Any, Optional


def token_matches(presented: Any, expected: Optional[str]) -> bool:
    """True only for a non-empty expected secret and an equal presented string (constant-time compare)."""
    return (bool(expected) and isinstance(presented, str) and bool(presented)
            and hmac.compare_digest(presented.encode(), str(expected).encode()))
