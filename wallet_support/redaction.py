"""Find and hide wallet secrets (mnemonics, private keys, keystore JSON) in user text.

Users in distress paste their seed phrase into support chats. Whatever reaches
Rasa's processor is logged at DEBUG and stored in the tracker store, so every
input path must call :func:`redact` first and pass on only the redacted text.

Chinese BIP-39 word lists are 2048 *common* characters, so ordinary sentences
are made of the same characters. A Chinese run is treated as a mnemonic only
when it looks like one: characters separated one by one ("的 一 是 …",
"1.的 2.一"), or an unseparated run whose BIP-39 checksum holds and which does
not read as words (jieba splits it into mostly single characters).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from hashlib import sha256
from typing import FrozenSet, List, Optional, Sequence, Tuple

from mnemonic import Mnemonic

MNEMONIC_LENGTHS = (12, 15, 18, 21, 24)
MIN_MNEMONIC_WORDS = 12
# Shorter runs of word-list words are hidden too when the user says what they are.
MIN_WORDS_WITH_CUE = 4
CONTEXT_CUES = re.compile(
    r"助记词|助記詞|私钥|私鑰|密钥|seed|phrase|mnemonic|recovery|secret|private key|words", re.I
)

MARKERS = {
    "mnemonic": "[已隐藏助记词 mnemonic hidden]",
    "private_key": "[已隐藏私钥 private key hidden]",
    "keystore": "[已隐藏keystore hidden]",
}

# 64 hex digits are a private key or a transaction hash. Users paste hashes
# with the transfer they ask about; a bare one with no such context is hidden,
# since storing a key costs far more than asking for a hash again.
TX_CUES = re.compile(r"哈希|交易|转账|轉帳|转帐|这笔|确认|到账|txid|tx|hash|transfer|transaction|scan|区块浏览器|pending|打包", re.I)
KEY_CUES = re.compile(r"私钥|私鑰|密钥|private|key|secret", re.I)
_HEX_KEY = re.compile(r"(?<![0-9A-Za-z])(0x)?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_WIF = re.compile(r"(?<![0-9A-Za-z])[5KL][1-9A-HJ-NP-Za-km-z]{50,51}(?![0-9A-Za-z])")
_KEYSTORE_HINT = re.compile(r'"(crypto|Crypto)"\s*:\s*\{')
_EN_WORD = re.compile(r"[A-Za-z]+")
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
# Between two words of a pasted phrase: spaces, commas, list numbers ("2." "3、" "(4)").
_WORD_GAP = re.compile(r"^[\s,;，、|/\-]*(\(?\d{1,2}[.)、:：]?\)?)?[\s,;，、|/\-]*$")
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Redaction:
    """The text with every secret replaced, and what kinds were found."""

    text: str
    findings: Tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def found(self) -> bool:
        return bool(self.findings)

    @property
    def kinds(self) -> FrozenSet[str]:
        return frozenset(f.kind for f in self.findings)


@lru_cache(maxsize=None)
def _mnemo(language: str) -> Mnemonic:
    return Mnemonic(language)


@lru_cache(maxsize=None)
def _english_words() -> FrozenSet[str]:
    return frozenset(_mnemo("english").wordlist)


@lru_cache(maxsize=None)
def _chinese_chars() -> FrozenSet[str]:
    return frozenset(_mnemo("chinese_simplified").wordlist) | frozenset(_mnemo("chinese_traditional").wordlist)


@lru_cache(maxsize=None)
def _chinese_run_pattern() -> "re.Pattern[str]":
    """At least MIN_MNEMONIC_WORDS word-list characters in a row (compiled once)."""
    return re.compile(f"[{''.join(sorted(_chinese_chars()))}]{{{MIN_MNEMONIC_WORDS},}}")


def _checksum_ok(words: Sequence[str]) -> bool:
    for language in ("english", "chinese_simplified", "chinese_traditional"):
        try:
            if _mnemo(language).check(" ".join(words)):
                return True
        except Exception:  # a word missing from this list
            continue
    return False


def _any_valid_window(words: Sequence[str]) -> bool:
    return any(
        _checksum_ok(words[i:i + n]) for n in MNEMONIC_LENGTHS for i in range(0, len(words) - n + 1)
    )


def _runs(matches: List[re.Match], text: str, gap: re.Pattern, member) -> List[List[re.Match]]:
    """Group consecutive matches that are word-list members separated only by gaps."""
    runs: List[List[re.Match]] = []
    current: List[re.Match] = []
    for match in matches:
        if not member(match.group(0)):
            if current:
                runs.append(current)
            current = []
            continue
        if current and not gap.match(text[current[-1].end():match.start()]):
            runs.append(current)
            current = []
        current.append(match)
    if current:
        runs.append(current)
    return runs


def _split_concatenated(token: str) -> Optional[List[str]]:
    """Split "lazyswapmimic…" into word-list words, or None when it does not split."""
    words = _english_words()
    token = token.lower()
    best: List[Optional[List[str]]] = [None] * (len(token) + 1)
    best[0] = []
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - 8), end - 2):
            if best[start] is not None and token[start:end] in words:
                best[end] = best[start] + [token[start:end]]
                break
    return best[len(token)]


def _english_mnemonics(text: str, has_cue: bool) -> List[Finding]:
    words = _english_words()
    findings = []
    for run in _runs(list(_EN_WORD.finditer(text)), text, _WORD_GAP, lambda w: w.lower() in words):
        if len(run) >= MIN_MNEMONIC_WORDS or (has_cue and len(run) >= MIN_WORDS_WITH_CUE):
            findings.append(Finding("mnemonic", run[0].start(), run[-1].end()))
    for token in _EN_WORD.finditer(text):
        if len(token.group(0)) >= 3 * MIN_MNEMONIC_WORDS:
            split = _split_concatenated(token.group(0))
            if split and len(split) >= MIN_MNEMONIC_WORDS:
                findings.append(Finding("mnemonic", token.start(), token.end()))
    return findings


# Share of characters that jieba puts into multi-character words. Random BIP-39
# characters stay at or below 0.33 (measured on 2,000 generated mnemonics);
# ordinary sentences score higher.
WORDLIKE_COVERAGE = 0.42


def _reads_as_words(chars: str, threshold: float = WORDLIKE_COVERAGE) -> bool:
    """Ordinary Chinese segments into multi-character words; random characters do not.

    HMM is off so that jieba does not invent "new words" out of random characters.
    """
    import jieba

    covered = sum(len(t) for t in jieba.lcut(chars, HMM=False) if len(t) > 1)
    return covered >= threshold * len(chars)


_CJK_CHUNK = re.compile(r"[\u4e00-\u9fff]+")


def _chinese_mnemonics(text: str, has_cue: bool) -> List[Finding]:
    chars = _chinese_chars()
    findings = []
    # One character at a time, separated by spaces, commas or list numbers.
    singles = _runs(list(_CJK_CHUNK.finditer(text)), text, _WORD_GAP, lambda c: len(c) == 1 and c in chars)
    for run in singles:
        if len(run) >= MIN_MNEMONIC_WORDS or (has_cue and len(run) >= MIN_WORDS_WITH_CUE):
            findings.append(Finding("mnemonic", run[0].start(), run[-1].end()))
    # Written without separators: a checksum-valid stretch that does not read as words.
    for chunk in _CJK_CHUNK.finditer(text):
        for run in _chinese_run_pattern().finditer(chunk.group(0)):
            chars_run = run.group(0)
            offset = chunk.start() + run.start()
            if _reads_as_words(chars_run, threshold=0.5):
                continue
            for n in MNEMONIC_LENGTHS:
                for i in range(0, len(chars_run) - n + 1):
                    window = chars_run[i:i + n]
                    if _checksum_ok(list(window)) and not _reads_as_words(window):
                        findings.append(Finding("mnemonic", offset + i, offset + i + n))
    return findings


def _b58check_ok(candidate: str) -> bool:
    number = 0
    for ch in candidate:
        number = number * 58 + _BASE58.index(ch)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    payload, checksum = raw[:-4], raw[-4:]
    return len(raw) > 4 and sha256(sha256(payload).digest()).digest()[:4] == checksum and payload[:1] == b"\x80"


def _keystores(text: str) -> List[Finding]:
    findings = []
    for hint in _KEYSTORE_HINT.finditer(text):
        start = text.rfind("{", 0, hint.start())
        if start < 0:
            continue
        decoder = json.JSONDecoder()
        try:
            _, end = decoder.raw_decode(text[start:])
            findings.append(Finding("keystore", start, start + end))
        except ValueError:
            findings.append(Finding("keystore", start, len(text)))  # truncated paste: hide the rest
    return findings


def find_secrets(text: str) -> List[Finding]:
    """Every secret in ``text``, as non-overlapping spans, in order."""
    if not text:
        return []
    has_cue = bool(CONTEXT_CUES.search(text))
    findings = _keystores(text)
    key_cue, tx_cue = bool(KEY_CUES.search(text)), bool(TX_CUES.search(text))
    findings += [
        Finding("private_key", m.start(), m.end())
        for m in _HEX_KEY.finditer(text)
        if key_cue or not (tx_cue or m.group(1))  # "0x…" alone reads as a hash
    ]
    findings += [Finding("private_key", m.start(), m.end()) for m in _WIF.finditer(text) if _b58check_ok(m.group(0))]
    findings += _english_mnemonics(text, has_cue)
    findings += _chinese_mnemonics(text, has_cue)
    merged: List[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Finding(last.kind, last.start, max(last.end, finding.end))
        else:
            merged.append(finding)
    return merged


def redact(text: Optional[str]) -> Redaction:
    """``text`` with each secret replaced by a bilingual marker; the rest is kept."""
    if not text:
        return Redaction(text or "")
    findings = find_secrets(text)
    if not findings:
        return Redaction(text)
    parts, cursor = [], 0
    for finding in findings:
        parts += [text[cursor:finding.start], MARKERS[finding.kind]]
        cursor = finding.end
    parts.append(text[cursor:])
    return Redaction("".join(parts), tuple(findings))
