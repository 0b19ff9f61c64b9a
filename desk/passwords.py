"""Agents' password hashes: bcrypt over a SHA-256 pre-hash, so any length of password counts in full.

bcrypt reads at most 72 bytes (bcrypt 5 refuses more; about 25 Chinese
characters). New hashes are ``sha256$`` + bcrypt of the base64 of the
password's SHA-256 (44 bytes, the scheme passlib calls ``bcrypt_sha256``
without its version tag). Hashes made before it (plain ``$2b$…``) keep
working: they are checked against the password's first 72 bytes, which is
all older bcrypt versions ever hashed.

Checking never raises and always costs one bcrypt of the same cost, for an
unknown username too, so neither errors nor timing tell who has an account.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Optional

import bcrypt

PREHASH_PREFIX = "sha256$"
BCRYPT_MAX_BYTES = 72


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest())


def hash_password(password: str) -> str:
    return PREHASH_PREFIX + bcrypt.hashpw(_prehash(password), bcrypt.gensalt()).decode()


@lru_cache(maxsize=1)
def _dummy_hash() -> bytes:
    """A hash of the same cost as real ones, to spend the same time on a name that has none."""
    return bcrypt.hashpw(b"no such agent", bcrypt.gensalt())


def check_password(password: str, stored: Optional[str]) -> bool:
    """Whether ``password`` matches ``stored`` (None or a non-hash: checked against a dummy, never matches)."""
    stored = stored or ""
    if stored.startswith(PREHASH_PREFIX):
        candidate, hashed = _prehash(password), stored[len(PREHASH_PREFIX):].encode()
    elif stored.startswith("$2"):
        candidate, hashed = password.encode("utf-8", "surrogatepass")[:BCRYPT_MAX_BYTES], stored.encode()
    else:
        candidate, hashed, stored = b"", _dummy_hash(), ""
    try:
        return bcrypt.checkpw(candidate, hashed) and bool(stored)
    except ValueError:  # a malformed stored hash
        return False


def spend_check_time(password: str) -> None:
    """What ``check_password`` costs, for a username without an account."""
    check_password(password, None)
