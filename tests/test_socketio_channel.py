"""The widget's socket.io channel: origins, server-issued signed sessions, limits, refusals."""

import pytest
import requests
import socketio

from tests.socketio_user import SocketIOUser


def test_a_client_chosen_session_id_is_replaced_by_a_signed_one(stack):
    user = SocketIOUser(stack.rasa_url, session_id="victim-conversation-id")
    try:
        assert user.session_id != "victim-conversation-id" and "." in user.session_id
    finally:
        user.close()


def test_a_forged_signature_is_refused(stack):
    first = SocketIOUser(stack.rasa_url)
    first.close()
    nonce, _mac = first.session_id.split(".")
    forged = SocketIOUser(stack.rasa_url, session_id=f"{nonce}.{'0' * 32}")
    try:
        assert forged.session_id != first.session_id
    finally:
        forged.close()


def test_a_reload_keeps_the_conversation(stack):
    user = SocketIOUser(stack.rasa_url)
    try:
        user.say("怎么创建钱包")
        user.wait_for(lambda m: "创建" in (m.get("text") or ""))
        session = user.session_id
    finally:
        user.close()
    reloaded = SocketIOUser(stack.rasa_url, session_id=session)
    try:
        assert reloaded.session_id == session
        tracker = requests.get(f"{stack.rasa_url}/conversations/{session}/tracker", params={"token": stack.api_token}, timeout=30).json()
        assert any(e.get("text") == "怎么创建钱包" for e in tracker["events"] if e.get("event") == "user")
        reloaded.say("谢谢")
        reloaded.wait_for(lambda m: bool(m.get("text")))
    finally:
        reloaded.close()


def test_a_message_for_another_session_is_refused(stack):
    victim = SocketIOUser(stack.rasa_url)
    attacker = SocketIOUser(stack.rasa_url)
    try:
        attacker.send_raw({"message": "我的币被盗了", "session_id": victim.session_id})
        refusal = attacker.wait_for_refusal()
        assert refusal["reason"] == "wrong_session" and refusal["text"]["zh"] and refusal["text"]["en"]
        tracker = requests.get(f"{stack.rasa_url}/conversations/{victim.session_id}/tracker",
                               params={"token": stack.api_token}, timeout=30).json()
        assert not [e for e in tracker["events"] if e.get("event") == "user"]
    finally:
        victim.close()
        attacker.close()


@pytest.mark.parametrize("payload, reason", [
    ("just a string", "wrong_session"),
    ({"message": 42}, "wrong_session"),
])
def test_malformed_payloads_get_a_clear_refusal(stack, payload, reason):
    user = SocketIOUser(stack.rasa_url)
    try:
        user.send_raw(payload)
        assert user.wait_for_refusal()["reason"] == reason
        user.send_raw({"message": {"nested": 1}, "session_id": user.session_id})
        assert user.wait_for_refusal()["reason"] == "not_text"
    finally:
        user.close()


def test_an_overlong_message_is_refused_with_a_request_to_shorten(stack):
    user = SocketIOUser(stack.rasa_url)
    try:
        user.say("钱" * 2001)
        refusal = user.wait_for_refusal()
        assert refusal["reason"] == "too_long" and "太长" in refusal["text"]["zh"] and "too long" in refusal["text"]["en"]
        user.say("怎么创建钱包")  # the conversation goes on
        user.wait_for(lambda m: "创建" in (m.get("text") or ""))
    finally:
        user.close()


def test_other_origins_cannot_open_a_socket(stack):
    with pytest.raises(socketio.exceptions.ConnectionError):
        SocketIOUser(stack.rasa_url, origin="https://evil.example")
    allowed = SocketIOUser(stack.rasa_url, origin="http://localhost:8080")
    allowed.close()
