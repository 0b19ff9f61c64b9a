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
