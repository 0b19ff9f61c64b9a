"""Canned replies: a short code an agent types as ``/code`` in the reply box, expanded in the ticket's language.

Supervisors manage the list (code, zh text, en text, visible to everyone or to supervisors only).
The bot's curated FAQ answers (``domain/responses_faq.yml``) can be inserted the same way, as
``/faq_<name>`` (``utter_create_wallet`` → ``/faq_create_wallet``): read from the file, so the
desk offers exactly the text the bot would give. Texts pass the desk's redaction like any other.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Dict, List, Optional

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from desk.models import Agent, CannedReply
from desk.schedule import utcnow
from desk.service import DeskError, DeskService, store_text
from desk.settings import PROJECT_ROOT

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
VISIBILITY = ("all", "supervisors")
FAQ_FILE = PROJECT_ROOT / "domain" / "responses_faq.yml"
FAQ_PREFIX = "faq_"
MAX_CHARS = 2000


@lru_cache(maxsize=1)
def curated_answers() -> Dict[str, Dict[str, str]]:
    """``{"faq_create_wallet": {"zh": ..., "en": ...}}`` from the bot's curated FAQ answers."""
    raw = yaml.safe_load(FAQ_FILE.read_text(encoding="utf-8")) or {}
    answers: Dict[str, Dict[str, str]] = {}
    for name, variations in (raw.get("responses") or {}).items():
        texts: Dict[str, str] = {}
        for variation in variations or ():
            language = next((c.get("value") for c in variation.get("condition") or () if c.get("name") == "language"), "zh")
            if isinstance(variation.get("text"), str):
                texts.setdefault(language, variation["text"])
        if {"zh", "en"} <= set(texts):
            answers[FAQ_PREFIX + name.removeprefix("utter_")] = texts
    return answers


def canned_json(row: CannedReply) -> Dict[str, object]:
    return {"code": row.code, "text_zh": row.text_zh, "text_en": row.text_en, "visible_to": row.visible_to,
            "updated_at": row.updated_at.isoformat(timespec="seconds") + "Z", "curated": False}


class CannedReplies:
    def __init__(self, service: DeskService) -> None:
        self.db = service.db

    @staticmethod
    def _fields(body: Dict[str, object], partial: bool) -> Dict[str, str]:
        fields: Dict[str, str] = {}
        for key in ("text_zh", "text_en"):
            if key in body or not partial:
                value = body.get(key)
                if not isinstance(value, str) or not store_text(value) or len(value) > MAX_CHARS:
                    raise DeskError(400, f"'{key}' must be a text of 1-{MAX_CHARS} characters")
                fields[key] = store_text(value)
        if "visible_to" in body or not partial:
            visible = body.get("visible_to", "all")
            if visible not in VISIBILITY:
                raise DeskError(400, "'visible_to' must be all or supervisors")
            fields["visible_to"] = str(visible)
        return fields

    def visible(self, agent: Agent) -> List[Dict[str, object]]:
        """What ``agent`` may insert: the list (supervisor-only entries for supervisors), then the curated answers."""
        with self.db.session() as s:
            rows = s.scalars(select(CannedReply).order_by(CannedReply.code)).all()
            mine = [canned_json(r) for r in rows if r.visible_to == "all" or agent.role == "supervisor"]
        curated = [{"code": code, "text_zh": t["zh"], "text_en": t["en"], "visible_to": "all", "curated": True}
                   for code, t in sorted(curated_answers().items())]
        return mine + curated

    def create(self, agent: Agent, body: Dict[str, object], now: Optional[datetime] = None) -> CannedReply:
        code = body.get("code")
        if not isinstance(code, str) or not CODE.match(code):
            raise DeskError(400, "'code' must be 1-32 of a-z, 0-9, _ and -, starting with a letter or digit")
        if code.startswith(FAQ_PREFIX):
            raise DeskError(400, f"codes starting with {FAQ_PREFIX!r} are the bot's curated answers")
        try:
            with self.db.session() as s:
                row = CannedReply(code=code, created_by_id=agent.id, updated_at=now or utcnow(), **self._fields(body, False))
                s.add(row)
                s.flush()
                s.refresh(row)
                return row
        except IntegrityError:
            raise DeskError(409, f"canned reply /{code} exists")

    def update(self, code: str, body: Dict[str, object], now: Optional[datetime] = None) -> CannedReply:
        fields = self._fields(body, True)
        with self.db.session() as s:
            row = s.scalars(select(CannedReply).where(CannedReply.code == code)).first()
            if row is None:
                raise DeskError(404, f"no canned reply /{code}")
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = now or utcnow()
            s.flush()
            s.refresh(row)
            return row

    def delete(self, code: str) -> None:
        with self.db.session() as s:
            row = s.scalars(select(CannedReply).where(CannedReply.code == code)).first()
            if row is None:
                raise DeskError(404, f"no canned reply /{code}")
            s.delete(row)
