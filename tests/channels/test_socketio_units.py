"""Pieces of the widget's socket.io channel that need no server."""

from safety.widget_sessions import SessionSigner


def test_widget_replies_keep_single_line_breaks_as_markdown_hard_breaks():
    from channels.socketio import keep_line_breaks

    assert keep_line_breaks("步骤：\n1. 备份\n2. 转出\n\n另一段") == "步骤：  \n1. 备份  \n2. 转出\n\n另一段"


def test_only_ids_this_secret_signed_verify():
    signer, other = SessionSigner("secret-a"), SessionSigner("secret-b")
    issued = signer.issue()
    assert signer.verify(issued) and not other.verify(issued)
    nonce = issued.split(".")[0]
    for forged in (nonce, f"{nonce}.", f"{nonce}.{'0' * 32}", "a.b.c", 42, None, "x" * 200):
        assert not signer.verify(forged)


def test_a_later_message_to_a_session_with_no_widget_connected_fails_instead_of_vanishing():
    # What the desk's trigger (output_channel=latest) sends through: an empty room is no delivery.
    import asyncio

    import pytest
    import socketio

    from channels.socketio import WidgetNotConnected, WidgetOutput

    sio = socketio.AsyncServer(async_mode="asgi")
    emitted = []

    async def emit(event, data, room=None, **kwargs):
        emitted.append((event, data, room))

    sio.emit = emit
    later = WidgetOutput(sio, "bot_uttered", require_listener=True)
    with pytest.raises(WidgetNotConnected):
        asyncio.run(later.send_text_message("session-1", "人工客服：您好"))
    assert emitted == []
    asyncio.run(sio.manager.enter_room("sid-1", "/", "session-1", eio_sid="eio-1"))
    asyncio.run(later.send_text_message("session-1", "人工客服：您好"))
    assert emitted == [("bot_uttered", {"text": "人工客服：您好"}, "session-1")]
    # A turn's own answers (the user is writing from that socket) are sent as before.
    during_turn = WidgetOutput(sio, "bot_uttered")
    asyncio.run(during_turn.send_text_message("session-2", "hi"))
    assert emitted[-1] == ("bot_uttered", {"text": "hi"}, "session-2")
