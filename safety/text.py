"""Pure text normalisation for Chinese/English wallet-support messages.

Every function here preserves the length of the text character for character.
That matters: Rasa's entity extractors report ``start``/``end`` offsets, and we
want those offsets to point at the same characters in the user's original
message after we normalised it for the model.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterable, Optional

import zhconv

FULLWIDTH_OFFSET = 0xFEE0
IDEOGRAPHIC_SPACE = "\u3000"

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def normalize_width(text: str) -> str:
    """Turn full-width ASCII (``ＵＳＤＴ``, ``１００``) into its half-width form.

    Phone keyboards in Chinese input mode often produce full-width letters and
    digits, which would otherwise be different features than ``USDT`` and ``100``.
    """
    chars = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            chars.append(chr(code - FULLWIDTH_OFFSET))
        elif ch == IDEOGRAPHIC_SPACE:
            chars.append(" ")
        else:
            chars.append(ch)
    return "".join(chars)


def blank_control_characters(text: str) -> str:
    """Replace control/format characters (NUL, zero-width joiners, bidi marks) by spaces."""
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t" else ch
        for ch in text
    )


@lru_cache(maxsize=4096)
def _to_simplified_char(ch: str) -> str:
    converted = zhconv.convert(ch, "zh-hans")
    return converted if len(converted) == 1 else ch


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese to Simplified without changing the length.

    zhconv converts whole phrases first (better quality); when a phrase
    conversion would change the length we fall back to character by character.
    """
    if not _CJK.search(text):
        return text
    converted = zhconv.convert(text, "zh-hans")
    if len(converted) == len(text):
        return converted
    return "".join(_to_simplified_char(ch) for ch in text)


def normalize_for_nlu(text: str) -> str:
    """Everything the model should not have to learn twice, length-preserving."""
    return to_simplified(normalize_width(blank_control_characters(text)))


# safety.redaction.MARKERS, e.g. "[已隐藏助记词 mnemonic hidden]".
_REDACTION_MARKER = re.compile(r"\[已隐藏[^\]]*hidden\]")


def detect_language(text: str) -> Optional[str]:
    """Return ``"zh"`` or ``"en"`` for the reply language, or None when unclear.

    Any Chinese character means Chinese: users write mixes such as
    "我的usdt一直pending" and expect a Chinese answer. Text with Latin words and
    no Chinese is English. Emoji, numbers, hashes and upper-case tickers alone
    ("TRON", "BSC", "USDT" answering "which chain?") say nothing.
    """
    # The bilingual markers that replace a hidden secret say nothing about the user.
    text = _REDACTION_MARKER.sub(" ", text)
    if _CJK.search(text):
        return "zh"
    without_hex = re.sub(r"\b(0x)?[0-9a-fA-F]{16,}\b|\bT[1-9A-HJ-NP-Za-km-z]{33}\b|\b[A-Z][A-Z0-9]{1,9}\b", " ", text)
    if _LATIN_WORD.search(without_hex):
        return "en"
    return None


# Rasa's text for intents triggered through its HTTP API (rasa.shared.core.constants).
EXTERNAL_MESSAGE_PREFIX = "EXTERNAL: "


def reply_language(user_texts_newest_first: Iterable[str], default: str = "zh") -> str:
    """Pick the reply language from the user's messages, newest first.

    Button payloads and forced intents ("/create_wallet") say nothing about the
    user's language and are skipped, as are messages with no language signal
    (emoji, a bare hash): the last message that tells wins, else ``default``.
    Intents triggered through the HTTP API (the desk's agent replies) appear as
    "EXTERNAL: <intent>" user events and are skipped too.
    """
    for text in user_texts_newest_first:
        if not text or text.lstrip().startswith("/") or text.startswith(EXTERNAL_MESSAGE_PREFIX):
            continue
        language = detect_language(text)
        if language:
            return language
    return default
