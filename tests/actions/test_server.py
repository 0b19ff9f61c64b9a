import pytest

from actions.server import create_authenticated_app, token_is_valid


def test_token_comparison():
    assert token_is_valid("abc", "abc")
    assert not token_is_valid(None, "abc")
    assert not token_is_valid("abd", "abc")


def test_an_open_action_server_is_refused():
    with pytest.raises(ValueError, match="ACTION_SERVER_TOKEN"):
        create_authenticated_app("")
