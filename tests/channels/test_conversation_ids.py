"""Conversation ids belong to the channel that made them."""

from channels.conversation_ids import foreign_to_rest, telegram_chat, telegram_conversation
from safety.widget_sessions import SessionSigner


def test_telegram_ids_round_trip_and_legacy_ids_still_send():
    assert telegram_conversation(7001) == "telegram:7001"
    assert telegram_chat("telegram:7001") == "7001"
    assert telegram_chat("7001") == "7001"


def test_rest_may_not_name_another_channels_conversation():
    signer = SessionSigner("secret")
    assert foreign_to_rest("telegram:7001", signer.verify)
    assert foreign_to_rest("  TELEGRAM:7001", signer.verify)
    assert foreign_to_rest(signer.issue(), signer.verify)
    assert foreign_to_rest("7001", signer.verify) is None
    assert foreign_to_rest("u1", signer.verify) is None


def test_callers_cannot_set_the_keys_only_we_set_and_addresses_are_hashed():
    from channels.conversation_ids import caller_metadata, client_key

    key = client_key("203.0.113.7", "salt")
    assert key == client_key("203.0.113.7", "salt") != client_key("203.0.113.8", "salt")
    assert "203.0.113.7" not in key
    metadata = caller_metadata({"secret_redacted": ["x"], "client": "ip-forged", "lang": "zh"}, key)
    assert metadata == {"lang": "zh", "client": key}
    assert caller_metadata("not a dict", key) == {"client": key}
