"""Log records never carry what may be the first part of a seed phrase pasted in parts.

A message that ends with two or more word-list words ("abandon ability") says nothing on its
own, so the gate lets it through as it came (``channels.input_gate``). If the next message
continues it into a seed phrase, it was the start of a secret: the tracker store and the desk
hide it afterwards, but a log line, once written, cannot be changed. Rasa logs every message's
text at DEBUG, so the gate registers such endings here as it passes the message on, and every
log record written in this process in the next ``ttl_seconds`` (the time a continuation is
waited for) shows them as the mnemonic marker.

Only the ending run is hidden, in records only (the conversation is unchanged), and at INFO,
the default level, no record carries message text in the first place.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, Set

from safety.redaction import MARKERS

MARKER = MARKERS["mnemonic"]


# Where a registered text can start: a word, a Chinese character, or its JSON escape.
_TOKEN = re.compile(r"[a-z]+|[\u3400-\u9fff]|\\u[0-9a-f]{4}")


class LogMasks:
    """Texts to hide from log records, each for ``ttl_seconds`` after it was last added.

    Records are scanned token by token against an index of the texts' first tokens, so a record
    costs the same with ten texts registered as with thousands (a flood at DEBUG level).
    """

    def __init__(self, ttl_seconds: float = 300.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds, self.max_entries, self._clock = ttl_seconds, max_entries, clock
        self._added: "OrderedDict[str, float]" = OrderedDict()  # lower-cased form -> when
        self._by_first: Dict[str, Set[str]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._added)

    def add(self, text: str) -> None:
        """Hide ``text`` (and its JSON-escaped form: Rasa's DEBUG dumps of parse data) from records."""
        text = text.strip().lower()
        if not text:
            return
        with self._lock:
            for form in {text, json.dumps(text)[1:-1]}:
                first = _TOKEN.match(form)
                if first is None:
                    continue
                self._added.pop(form, None)
                self._added[form] = self._clock()
                self._by_first.setdefault(first.group(0), set()).add(form)
            while len(self._added) > self.max_entries:
                self._drop(next(iter(self._added)))

    def _drop(self, form: str) -> None:
        del self._added[form]
        first = _TOKEN.match(form).group(0)  # type: ignore[union-attr] - only forms with one are added
        forms = self._by_first.get(first, set())
        forms.discard(form)
        if not forms:
            self._by_first.pop(first, None)

    def mask(self, message: str) -> str:
        """``message`` with every registered text that starts at a token replaced by the marker."""
        if not self._added:
            return message
        lower = message.lower()
        if len(lower) != len(message):  # a character whose lower case is longer: compare as written
            lower = message
        with self._lock:
            cutoff = self._clock() - self.ttl_seconds
            while self._added and next(iter(self._added.values())) < cutoff:
                self._drop(next(iter(self._added)))
            spans, position = [], 0
            for token in _TOKEN.finditer(lower):
                if token.start() < position or token.group(0) not in self._by_first:
                    continue
                found = [f for f in self._by_first[token.group(0)] if lower.startswith(f, token.start())]
                if found:
                    position = token.start() + max(len(f) for f in found)
                    spans.append((token.start(), position))
        if not spans:
            return message
        pieces, last = [], 0
        for begin, end in spans:
            pieces += [message[last:begin], MARKER]
            last = end
        return "".join(pieces + [message[last:]])

    def clear(self) -> None:
        with self._lock:
            self._added.clear()
            self._by_first.clear()


log_masks = LogMasks()


def install(masks: LogMasks = log_masks) -> None:
    """Make every log record of this process pass through ``masks`` (idempotent).

    A record factory, not a handler filter: it holds for the handlers Rasa configures later, and
    costs nothing for records below the logger's level, which are never made.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks", None) is masks:
        return

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if len(masks):
            try:
                text = record.getMessage()
            except Exception:  # noqa: BLE001 - a malformed record is logging's to report, as before
                return record
            hidden = masks.mask(text)
            if hidden != text:
                record.msg, record.args = hidden, ()
        return record

    masked_record.masks = masks  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked_record)
