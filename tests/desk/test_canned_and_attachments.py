"""Canned replies (/api/canned) and attachments: Telegram getFile through the Bot API stand-in,
size and type limits, access control, retention (issue #20)."""

import logging
from datetime import datetime, timedelta

import requests

from desk.attachments import AttachmentStore, sniff
from desk.settings import DeskSettings
from tests.desk.webapp import RunningDesk
from tests.telegram_standin import start_telegram_standin

NOW = datetime(2026, 11, 22, 4, 0)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 8 + b"\xff\xd9"
PASSWORD = "correct horse battery"


def with_settings(service, **changes):
    """The service with other desk settings (same database)."""
    service.settings = DeskSettings(**{**service.settings.dict(), **changes})
    return service


def test_canned_replies_are_managed_by_supervisors_and_seen_by_agents(service):
    service.create_agent("bob", PASSWORD, "agent")
    service.create_agent("sue", PASSWORD, "supervisor")
    bob, sue = service.create_api_token("bob", "bob"), service.create_api_token("sue", "sue")
    with RunningDesk(service) as desk:
        hello = {"code": "hello", "text_zh": "你好，我是客服。", "text_en": "Hello, I am your agent."}
        assert desk.api("POST", "/api/canned", bob, json=hello).status_code == 403
        assert desk.api("POST", "/api/canned", sue, json=hello).status_code == 201
        assert desk.api("POST", "/api/canned", sue, json=hello).status_code == 409
        assert desk.api("POST", "/api/canned", sue, json={**hello, "code": "Bad Code!"}).status_code == 400
        assert desk.api("POST", "/api/canned", sue, json={**hello, "code": "x", "text_en": ""}).status_code == 400
        secret = {"code": "escalate", "text_zh": "内部流程", "text_en": "internal", "visible_to": "supervisors"}
        assert desk.api("POST", "/api/canned", sue, json=secret).status_code == 201
        seen = {c["code"]: c for c in desk.api("GET", "/api/canned", bob).json()["canned"]}
        assert "hello" in seen and "escalate" not in seen
        assert "faq_create_wallet" in seen and seen["faq_create_wallet"]["curated"] is True
        assert "escalate" in {c["code"] for c in desk.api("GET", "/api/canned", sue).json()["canned"]}
        changed = desk.api("PUT", "/api/canned/hello", sue, json={"text_en": "Hi there."})
        assert changed.status_code == 200 and changed.json()["text_en"] == "Hi there."
        assert desk.api("PUT", "/api/canned/nothing", sue, json={"text_en": "x"}).status_code == 404
        assert desk.api("DELETE", "/api/canned/hello", bob).status_code == 403
        assert desk.api("DELETE", "/api/canned/hello", sue).status_code == 204
        assert "hello" not in {c["code"] for c in desk.api("GET", "/api/canned", bob).json()["canned"]}


def test_sniffing_decides_the_type_not_the_sender():
    assert sniff(JPEG) == "image/jpeg"
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff(b"%PDF-1.7 ...") == "application/pdf"
    assert sniff(b"MZ\x90\x00\x03\x00\x00\x00") is None  # an executable named photo.jpg
    assert sniff(b"<html><script>alert(1)</script>") == "text/plain"


def test_a_telegram_photo_is_fetched_limited_and_shown_only_to_agents(service, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    telegram = start_telegram_standin()
    service = with_settings(service, telegram_api_base=telegram.url, telegram_bot_token="123:bot-token",
                            attachments_dir=str(tmp_path / "files"), attachment_max_bytes=4096)
    telegram.add_file("photo-1", JPEG)
    telegram.add_file("too-big", b"\xff\xd8\xff" + b"x" * 5000)
    telegram.add_file("program", b"MZ\x90\x00" + bytes(100))
    service.create_agent("bob", PASSWORD, "agent")
    bob, bot = service.create_api_token("bob", "bob"), service.settings.api_token
    try:
        with RunningDesk(service) as desk:
            path = "/api/conversations/telegram:42/attachments"
            attached = desk.api("POST", path, bot, json={"kind": "photo", "file_id": "photo-1", "language": "en"})
            assert attached.status_code == 201, attached.text
            body = attached.json()
            assert body["created"] is True and body["attachment"]["content_type"] == "image/jpeg"
            ticket_id, attachment_id = body["ticket"]["id"], body["attachment"]["id"]
            assert telegram.downloads == ["photo-1"]
            assert [c.body for c in telegram.calls_to("getFile")] == [{"file_id": "photo-1"}]
            # A second file goes to the same open ticket.
            again = desk.api("POST", path, bot, json={"kind": "photo", "file_id": "photo-1"})
            assert again.json()["created"] is False and again.json()["ticket"]["id"] == ticket_id
            # Limits: size (Telegram's stated size), type (from the bytes), unknown file.
            assert desk.api("POST", path, bot, json={"kind": "photo", "file_id": "too-big"}).status_code == 413
            assert desk.api("POST", path, bot, json={"kind": "document", "file_id": "program"}).status_code == 415
            assert desk.api("POST", path, bot, json={"kind": "photo", "file_id": "nope"}).status_code == 502
            assert desk.api("POST", path, bot, json={"kind": "video", "file_id": "photo-1"}).status_code == 400
            # Access: agents' tokens and sessions only; the bot's token and strangers get nothing.
            served = desk.api("GET", f"/api/attachments/{attachment_id}", bob)
            assert served.status_code == 200 and served.content == JPEG
            assert served.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in served.headers["Content-Security-Policy"]
            assert desk.api("GET", f"/api/attachments/{attachment_id}", bot).status_code == 403
            assert requests.get(f"{desk.url}/api/attachments/{attachment_id}", timeout=10).status_code == 401
            assert requests.get(f"{desk.url}/desk/attachments/{attachment_id}", timeout=10, allow_redirects=False).status_code == 302
            browser = requests.Session()
            assert desk.login("bob", PASSWORD, browser).status_code == 302
            assert browser.get(f"{desk.url}/desk/attachments/{attachment_id}", timeout=10).content == JPEG
            listed = desk.api("GET", f"/api/tickets/{ticket_id}/attachments", bob).json()["attachments"]
            assert [a["id"] for a in listed][0] == attachment_id
            ticket = desk.api("GET", f"/api/tickets/{ticket_id}", bob).json()
            assert any(m["text"] == f"[photo {attachment_id}]" for m in ticket["messages"])
    finally:
        telegram.stop()
    # The bytes are nowhere in the logs, nor is the bot token of the file URL.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "123:bot-token" not in logged and JPEG[:64].decode("latin-1") not in logged
    files = list((tmp_path / "files").iterdir())
    assert len(files) == 2 and all(f.stat().st_mode & 0o077 == 0 for f in files)


def test_retention_deletes_old_files(service, tmp_path):
    service = with_settings(service, attachments_dir=str(tmp_path / "files"), attachment_retention_days=30)
    store = AttachmentStore(service)
    _ticket, old, _ = store.attach("telegram:1", "photo", JPEG, now=NOW)
    _ticket, new, _ = store.attach("telegram:1", "photo", JPEG, now=NOW + timedelta(days=20))
    assert store.purge(NOW + timedelta(days=31)) == 1
    assert len(list((tmp_path / "files").iterdir())) == 1
    status = None
    try:
        store.read(old.public_id)
    except Exception as error:  # noqa: BLE001 - DeskError
        status = error.status
    assert status == 410
    assert store.read(new.public_id)[1] == JPEG
    assert store.purge(NOW + timedelta(days=31)) == 0
