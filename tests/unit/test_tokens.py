"""token_matches: the one shared-secret check of the channels and the worker (safety/tokens.py)."""

import pytest

from safety.tokens import token_matches


@pytest.mark.parametrize("presented, expected, ok", [
    ("s3cret", "s3cret", True),
    ("s3cret", "other", False),
    (None, "s3cret", False),
    ("", "s3cret", False),
    ("", "", False),  # no secret configured: nothing matches, not even an empty token
    ("s3cret", None, False),
    (["s3cret"], "s3cret", False),
    ("密钥", "密钥", True),
])
def test_only_an_equal_non_empty_string_matches_a_configured_secret(presented, expected, ok):
    assert token_matches(presented, expected) is ok
