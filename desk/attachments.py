"""Files users send (Telegram photos and documents): fetched by the desk, kept under var/, shown to agents only.

The Telegram channel passes the desk a reference (the ``file_id``), never the bytes: the desk asks
the Bot API (``getFile``, then ``/file/bot<token>/<file_path>``, through the configurable
``desk.telegram_api_base``) and keeps the file under ``desk.attachments_dir`` with a random name,
readable by the desk's user only. The tracker store never sees it, and nothing here logs the bytes,
the file URL (it holds the bot token) or the file name.

Limits: at most ``desk.attachment_max_bytes`` (checked on Telegram's stated size and again while
reading), and only the types in ``desk.attachment_types``, decided from the bytes themselves
(magic numbers), not from what the sender claims. ``purge`` deletes files older than
``desk.attachment_retention_days``; the row stays, marked deleted, so the ticket says a file was there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import List, Optional, Tuple

import aiohttp
from sqlalchemy import select

from desk.models import Attachment, Ticket, TicketMessage
from desk.schedule import utcnow
from desk.service import DeskError, DeskService, Escalation
from desk.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=30)
KINDS = ("photo", "document")


def sniff(data: bytes) -> Optional[str]:
    """The content type the bytes themselves show, for the types the desk can accept; None otherwise."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain" if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text) else None


class TelegramFiles:
    """Downloads a file Telegram holds for the bot (Bot API ``getFile``)."""

    def __init__(self, api_base: str, token: Optional[str], max_bytes: int) -> None:
        self.api_base, self.token, self.max_bytes = api_base.rstrip("/"), token, max_bytes

    async def fetch(self, file_id: str) -> bytes:
        if not self.token:
            raise DeskError(503, "the desk has no TELEGRAM_BOT_TOKEN to fetch Telegram files with")
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
                async with session.post(f"{self.api_base}/bot{self.token}/getFile", json={"file_id": file_id}) as answer:
                    body = await answer.json(content_type=None)
                if answer.status != 200 or not body.get("ok"):
                    raise DeskError(502, f"Telegram refused getFile: HTTP {answer.status}")
                found = body.get("result") or {}
                if int(found.get("file_size") or 0) > self.max_bytes:
                    raise DeskError(413, f"the file is larger than {self.max_bytes} bytes")
                path = found.get("file_path")
                if not isinstance(path, str) or not path or ".." in path:
                    raise DeskError(502, "Telegram gave no usable file_path")
                async with session.get(f"{self.api_base}/file/bot{self.token}/{path}") as download:
                    if download.status != 200:
                        raise DeskError(502, f"Telegram file download failed: HTTP {download.status}")
                    data = await download.content.read(self.max_bytes + 1)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as error:
            # Never the URL: it carries the bot token.
            raise DeskError(502, f"Telegram unreachable: {type(error).__name__}") from None
        if len(data) > self.max_bytes:
            raise DeskError(413, f"the file is larger than {self.max_bytes} bytes")
        return data


class AttachmentStore:
    def __init__(self, service: DeskService) -> None:
        self.service = service
        settings = service.settings
        directory = Path(settings.attachments_dir)
        self.directory = directory if directory.is_absolute() else PROJECT_ROOT / directory
        self.max_bytes = settings.attachment_max_bytes
        self.types = tuple(settings.attachment_types)
        self.retention = timedelta(days=settings.attachment_retention_days)
        self.telegram = TelegramFiles(settings.telegram_api_base, settings.telegram_bot_token, self.max_bytes)

    def check(self, data: bytes) -> str:
        """The accepted content type of ``data``, or a 413/415 DeskError saying why not."""
        if not data:
            raise DeskError(400, "the file is empty")
        if len(data) > self.max_bytes:
            raise DeskError(413, f"the file is larger than {self.max_bytes} bytes")
        content_type = sniff(data)
        if content_type not in self.types:
            raise DeskError(415, f"only these file types are accepted: {', '.join(self.types)}")
        return content_type

    def attach(self, conversation_id: str, kind: str, data: bytes, channel: str = "unknown", language: str = "zh",
               now: Optional[datetime] = None) -> Tuple[Ticket, Attachment, Optional[Escalation]]:
        """Attach ``data`` to the conversation's open ticket, opening a P3 ticket if there is none (its escalation)."""
        if kind not in KINDS:
            raise DeskError(400, f"kind must be one of {', '.join(KINDS)}")
        content_type = self.check(data)
        now = now or utcnow()
        found = self.service.conversation_status(conversation_id, now)
        escalation = None
        if found is None:
            escalation = self.service.escalate(conversation_id, "P3", channel=channel, intent="attachment",
                                               language=language, now=now)
            ticket = escalation.ticket
        else:
            ticket = found[0]
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        public_id = "A-" + secrets.token_urlsafe(12)
        name = secrets.token_hex(16)
        fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        with self.service.db.session() as s:
            row = Attachment(public_id=public_id, ticket_id=ticket.id, kind=kind, content_type=content_type,
                             size=len(data), sha256=hashlib.sha256(data).hexdigest(), path=name, created_at=now)
            s.add(row)
            s.add(TicketMessage(ticket_id=ticket.id, direction="user", created_at=now, intent="attachment",
                                text=f"[{kind} {public_id}]"))
            s.flush()
            s.refresh(row)
        logger.info("attachment %s (%s, %d bytes) on %s", public_id, content_type, len(data), ticket.public_id)
        return ticket, row, escalation

    def of_ticket(self, ticket_id: int) -> List[Attachment]:
        with self.service.db.session() as s:
            return list(s.scalars(select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(Attachment.id)).all())

    def read(self, public_id: str) -> Tuple[Attachment, bytes]:
        with self.service.db.session() as s:
            row = s.scalars(select(Attachment).where(Attachment.public_id == public_id)).first()
        if row is None:
            raise DeskError(404, f"no attachment {public_id!r}")
        if row.path is None:
            raise DeskError(410, f"attachment {public_id} was deleted after the retention period")
        return row, (self.directory / row.path).read_bytes()

    def purge(self, now: Optional[datetime] = None) -> int:
        """Delete the files older than the retention period; returns how many."""
        cutoff = (now or utcnow()) - self.retention
        with self.service.db.session() as s:
            rows = s.scalars(select(Attachment).where(Attachment.path.isnot(None), Attachment.created_at < cutoff)).all()
            for row in rows:
                (self.directory / row.path).unlink(missing_ok=True)
                row.path, row.deleted_at = None, now or utcnow()
            return len(rows)

    async def loop(self, interval_seconds: float = 3600) -> None:
        while True:
            try:
                self.purge()
            except Exception:  # the loop must outlive one bad round
                logger.exception("attachment retention round failed")
            await asyncio.sleep(interval_seconds)
