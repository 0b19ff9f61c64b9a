"""Find and hide wallet secrets (mnemonics, private keys, keystore JSON) in user text.

Users in distress paste their seed phrase into support chats, whole or in parts:
six or more word-list words in a row are a partial seed (one missing word of
twelve is only 2,048 guesses), checksum or not, and are hidden like a whole one
unless they read as prose (see ``COMMON_WORDS``). :func:`redact_continuing`
does the same across consecutive messages of one conversation. Whatever reaches
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
from pathlib import Path
from typing import Any, FrozenSet, List, Optional, Sequence, Tuple

from mnemonic import Mnemonic

MNEMONIC_LENGTHS = (12, 15, 18, 21, 24)
MIN_MNEMONIC_WORDS = 12
# A run this long is a partial seed even without a checksum.
MIN_PARTIAL_WORDS = 6
# Chinese written without separators reads like a sentence more often: a
# stretch of word-list characters alone needs this many (11 of 12 is caught).
MIN_UNSPACED_PARTIAL_CHARS = 11
# Shorter runs of word-list words are hidden too when the user says what they are.
MIN_WORDS_WITH_CUE = 4
# ...or when they are the whole message: the first part of a phrase pasted over several messages
# ("tribe obscure lonely faint", then the next four) is stored before the rest arrives, so it must be
# judged alone. Ordinary chat made only of word-list words is rare and reads as prose ("need human
# help"); a random draw of three reads that way about one time in twelve (results/secrets.md).
MIN_BARE_WORDS = 3
# Characters written together read as Chinese far more often: four or five of them that are the whole
# message count only when no character belongs to a word or to the grammar (about 85 % of random
# draws; no short message of our Chinese data, where the least read was "教我做空" at 0.25).
MIN_BARE_CHARS = 4
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
# Between two words of a pasted phrase: spaces, commas, full stops, list numbers
# ("2." "3、" "(4)" "5)" "#6" "⑦" "⑻" "⒐" "❿" "㉑").
_GAP_CHARS = r"[\s,;，、；|/\\\-·•*.。:：]"
_LIST_NUMBER = r"(?:[(（\[]?#?\d{1,2}[.)）\]、:：．]?|[\u2460-\u249b\u24eb-\u24ff\u2776-\u2793\u3251-\u325f])"
_WORD_GAP = re.compile(rf"^{_GAP_CHARS}*(?:{_LIST_NUMBER}{_GAP_CHARS}*)?$")
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
    # The start of the text continued the conversation's previous message into a seed: the end of
    # that message is part of the secret too (:func:`hide_ending`).
    continues_previous: bool = False

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


# Word-list words that are everyday English, in chat or in a support request.
# A run of word-list words reads as prose ("can someone please help, this
# address that…") when at least two thirds of it are such words; a random
# draw from the list has one in ten of them, so a partial seed of six words
# reads as prose about once in 700 tries, a longer one practically never.
COMMON_WORDS = frozenset("""
about above across act actual add again age all almost alone already also always among amount another any
around ask aware away bag because become before begin behind below best better between beyond bitter blame
bottom bring call can case cause certain change check choose clean come correct crazy cry day deal describe
detail during early easy either else empty end enough entire error exact example face fall feel few find fine
first follow found friend front fun future give good great have hello help high hold hope hundred idea inside
into issue just keep kind know large later learn leave left like little live long make match mean more move
much must myself name near need never next nice nothing now off often okay old once one only open option order
other over own page people perfect place please point possible pretty problem put rather real reason receive
remember report right same say second seek sense shift side simple since six someone sort soon sorry still
stuff such sure system talk tell ten thank that then there they thing this three time today together top toward
try twelve twenty two under unable until update upon use very wait want way weekend what when where will wish
word work world wrong year you young
""".split())


# Word-list words that real users' support messages use most (counted over the English
# messages of data/real and data/nlu), beyond COMMON_WORDS: "is there any short term quick fix",
# "obvious that this action will require gas". A run made mostly of them (two thirds) reads as
# prose too; a random draw from the list holds about one in six, so six words of a seed read that
# way about once in a hundred tries (results/secrets.md measures the catch rate).
SUPPORT_WORDS = frozenset("""
address account balance token transfer link fee gas network connect version exchange used coin phone message
trust able access code bridge swap fix click zero history team payment claim screen deposit price cancel total tag
number enter file project worth ticket return process sign morning appear mobile security confirm start list custom
web unknown original safe hidden pool cash couple release month approve install play sell main limit answer success
device step solve provide question thought test solution feature laptop believe night pass group core market spend
load post base similar verify arrive mistake type person cost view smart current display advance copy moment assist
source small window trade increase matter crash client method run state public asset hour response guide service allow
explain input normal speed tool advice offer result card action local switch write hard short term quick obvious
require auto magic human agent
""".split())
EVERYDAY_SHARE = 2 / 3


def _reads_as_prose(words: Sequence[str], share: float = 1 / 2) -> bool:
    lowered = [w.lower() for w in words]
    if sum(w in COMMON_WORDS for w in lowered) >= share * len(lowered):
        return True
    return sum(w in COMMON_WORDS or w in SUPPORT_WORDS for w in lowered) >= EVERYDAY_SHARE * len(lowered)


# Pairs of word-list words that name a secret. In a short run next to a cue they are the user
# talking about the secret ("can enter private key", "private key, public key"), not part of it;
# a seed holds such a pair about once in 100,000 draws of four words.
KEY_TALK = frozenset({("secret", "key"), ("private", "key"), ("public", "key"), ("secret", "phrase"),
                      ("seed", "phrase"), ("recovery", "phrase"), ("seed", "words"), ("secret", "words")})


def _without_key_talk(words: Sequence[str]) -> List[str]:
    """``words`` without the pairs that name a secret (:data:`KEY_TALK`)."""
    lowered = [w.lower() for w in words]
    named = set()
    for i in range(len(lowered) - 1):
        if (lowered[i], lowered[i + 1]) in KEY_TALK:
            named.update((i, i + 1))
    return [w for i, w in enumerate(words) if i not in named]


def _english_secret_run(words: Sequence[str], has_cue: bool, bare: bool = False) -> bool:
    """A run of word-list words that is a whole or partial seed (``bare``: the run is the whole message)."""
    if len(words) < MIN_PARTIAL_WORDS:
        # Four or five words next to "seed", "phrase"…, or three or more that are the whole message:
        # unless half of them are everyday words, or too few are left once the words naming the
        # secret are set aside.
        needed = min(MIN_WORDS_WITH_CUE if has_cue else MIN_PARTIAL_WORDS, MIN_BARE_WORDS if bare else MIN_PARTIAL_WORDS)
        return len(_without_key_talk(words)) >= needed and not _reads_as_prose(words, share=1 / 2)
    if len(words) >= MIN_MNEMONIC_WORDS and _any_valid_window([w.lower() for w in words]):
        return True
    return not _reads_as_prose(words)


def _is_whole(text: str, run: Sequence[re.Match]) -> bool:
    """Whether ``run`` is all there is in ``text`` (separators and list numbers aside)."""
    return bool(_WORD_GAP.match(text[:run[0].start()]) and _WORD_GAP.match(text[run[-1].end():]))


def _english_runs(text: str) -> List[List[re.Match]]:
    words = _english_words()
    return _runs(list(_EN_WORD.finditer(text)), text, _WORD_GAP, lambda w: w.lower() in words)


def _english_mnemonics(text: str, has_cue: bool) -> List[Finding]:
    findings = []
    for run in _english_runs(text):
        if _english_secret_run([m.group(0) for m in run], has_cue, _is_whole(text, run)):
            findings.append(Finding("mnemonic", run[0].start(), run[-1].end()))
    for token in _EN_WORD.finditer(text):
        if len(token.group(0)) >= 3 * MIN_PARTIAL_WORDS:
            split = _split_concatenated(token.group(0))
            # Decided as the same words with spaces would be: a checksum-valid phrase is a seed even
            # when half its words are everyday English ("wherehelpcourse…because…onlysuchplace").
            if split and len(split) >= MIN_PARTIAL_WORDS and _english_secret_run(split, has_cue):
                findings.append(Finding("mnemonic", token.start(), token.end()))
    return findings


# Share of characters that jieba puts into multi-character words. Random BIP-39
# characters stay at or below 0.33 (measured on 2,000 generated mnemonics);
# ordinary sentences score higher.
WORDLIKE_COVERAGE = 0.42


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    """A jieba tokenizer of our own with the project's wallet vocabulary.

    Not jieba's global one: Rasa's tokenizer loads the user dictionary into that one
    only in some processes, and a redaction must not depend on which process runs it.
    """
    import jieba

    tokenizer = jieba.Tokenizer()
    userdict = Path(__file__).resolve().parent.parent / "data/jieba/userdict.txt"
    if userdict.exists():
        tokenizer.load_userdict(str(userdict))
    return tokenizer


def load_dictionary() -> None:
    """Load the segmenter's dictionary now rather than on the first Chinese message.

    The Rasa fork server calls it before forking, so its children share one copy of it.
    """
    _segmenter().check_initialized()


def _reads_as_words(chars: str, threshold: float = WORDLIKE_COVERAGE) -> bool:
    """Ordinary Chinese segments into multi-character words; random characters do not.

    HMM is off so that jieba does not invent "new words" out of random characters.
    """
    covered = sum(len(t) for t in _segmenter().lcut(chars, HMM=False) if len(t) > 1)
    return covered >= threshold * len(chars)


_CJK_CHUNK = re.compile(r"[\u4e00-\u9fff]+")
_ALL_BUT_CJK = re.compile(r"[^\u4e00-\u9fff]+")


# Characters that carry the grammar of a Chinese sentence. Ordinary messages
# are full of them and of multi-character words; a random draw from the word
# list has few of either.
GRAMMAR_CHARS = frozenset("的了吗么呢吧啊呀嘛是我你他她它们在不没有被把给要会能想也都就还很这那哪什怎谁为和与或跟到从对就吗啦喔哦嗯")


def _read_share(chars: str) -> float:
    """Share of ``chars`` (as Simplified) in multi-character words or grammar characters."""
    from safety.text import to_simplified

    simplified = to_simplified(chars)
    read = [False] * len(simplified)
    position = 0
    for token in _segmenter().lcut(simplified, HMM=False):
        for k in range(position, position + len(token)):
            read[k] = len(token) > 1 or simplified[k] in GRAMMAR_CHARS
        position += len(token)
    return sum(read) / len(simplified) if simplified else 1.0


def _random_chars(chars: str) -> bool:
    """Unseparated word-list characters that read as neither words nor a sentence.

    Fewer than a third of the characters of 99 % of random draws are read (measured
    on 2,000 draws of 6 to 12 characters), more than a third of an ordinary message's.
    """
    return _read_share(chars) < 1 / 3


def _chinese_singles(text: str) -> List[List[re.Match]]:
    """Runs of word-list characters written one at a time (spaces, commas or list numbers between)."""
    chars = _chinese_chars()
    return _runs(list(_CJK_CHUNK.finditer(text)), text, _WORD_GAP, lambda c: len(c) == 1 and c in chars)


# Read-share limits for a checksum-valid stretch of word-list characters. Measured on 20,000
# generated 12-character phrases: 0.07 % read 0.5 or more, none 0.6; 3 % of the 12-character
# windows of our Chinese training and test messages read under 0.6 (and 1 in 16 of those has a
# valid checksum). So the message that is nothing but the stretch gets 0.6, a stretch with other
# text around it 1/2, a window inside a longer stretch 1/3.
ALONE_READ_LIMIT = 0.6
CHUNK_READ_LIMIT = 1 / 2
WINDOW_READ_LIMIT = 1 / 3


def _checksum_window_limit(window: str, chunk: str, whole: str) -> float:
    """How much of a checksum-valid ``window`` may read as words and it still be taken for a phrase."""
    if window == whole:
        return ALONE_READ_LIMIT
    return CHUNK_READ_LIMIT if window == chunk else WINDOW_READ_LIMIT


def _chinese_mnemonics(text: str, has_cue: bool) -> List[Finding]:
    chars = _chinese_chars()
    findings = []
    for run in _chinese_singles(text):
        if len(run) >= MIN_PARTIAL_WORDS or (has_cue and len(run) >= MIN_WORDS_WITH_CUE) \
                or (len(run) >= MIN_BARE_WORDS and _is_whole(text, run)):
            findings.append(Finding("mnemonic", run[0].start(), run[-1].end()))
    whole = _ALL_BUT_CJK.sub("", text)
    for chunk in _CJK_CHUNK.finditer(text):
        # A stretch of word-list characters, as pasted: a partial seed unless it reads. Almost every
        # common character is on the list, so short stretches count only as the whole message.
        stretch = chunk.group(0)
        long_enough = len(stretch) >= MIN_UNSPACED_PARTIAL_CHARS or (
            len(stretch) >= MIN_PARTIAL_WORDS and stretch == whole)
        bare = MIN_BARE_CHARS <= len(stretch) < MIN_PARTIAL_WORDS and stretch == whole
        if (long_enough or bare) and all(c in chars for c in stretch) and not CONTEXT_CUES.search(stretch) \
                and (_read_share(stretch) == 0 if bare else _random_chars(stretch)):
            findings.append(Finding("mnemonic", chunk.start(), chunk.end()))
            continue
        # Inside a sentence: a checksum-valid stretch that does not read as words.
        for run in _chinese_run_pattern().finditer(chunk.group(0)):
            chars_run = run.group(0)
            offset = chunk.start() + run.start()
            if _reads_as_words(chars_run, threshold=ALONE_READ_LIMIT if chars_run == whole else CHUNK_READ_LIMIT):
                continue
            for n in MNEMONIC_LENGTHS:
                for i in range(0, len(chars_run) - n + 1):
                    window = chars_run[i:i + n]
                    # A valid checksum already rules out 15 of 16 chance stretches: a whole pasted
                    # stretch may read more before it counts as a sentence.
                    limit = _checksum_window_limit(window, chunk.group(0), whole)
                    if _checksum_ok(list(window)) and _read_share(window) < limit:
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


def _merge(findings: List[Finding]) -> List[Finding]:
    merged: List[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Finding(last.kind, last.start, max(last.end, finding.end))
        else:
            merged.append(finding)
    return merged


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
    return _merge(findings)


def _apply(text: str, findings: Sequence[Finding]) -> Redaction:
    if not findings:
        return Redaction(text)
    parts, cursor = [], 0
    for finding in findings:
        parts += [text[cursor:finding.start], MARKERS[finding.kind]]
        cursor = finding.end
    parts.append(text[cursor:])
    return Redaction("".join(parts), tuple(findings))


def redact(text: Optional[str]) -> Redaction:
    """``text`` with each secret replaced by a bilingual marker; the rest is kept."""
    if not text:
        return Redaction(text or "")
    return _apply(text, find_secrets(text))


# --- A seed pasted over several messages -------------------------------------

# The most words of a message's end kept for the next message (a whole 24-word phrase).
MAX_TAIL_WORDS = 24
# Each side of a message boundary needs this many words to be joined up:
# a lone "help" after a pasted phrase is not its continuation.
MIN_JOINED_WORDS = 2


# Message metadata set on a message whose start continued the previous message into a seed phrase
# (never the words): whoever stored the previous message hides its end (:func:`hide_ending`).
SEED_CONTINUED_METADATA_KEY = "seed_continues_previous"


@dataclass(frozen=True)
class Tail:
    """The run of word-list words a message ends with. Secret material: keep it in memory only."""

    script: str  # "en"; "zh" one character at a time; "zh-run" characters written together
    words: Tuple[str, ...]


@lru_cache(maxsize=None)
def _marker_pattern() -> "re.Pattern[str]":
    return re.compile("|".join(re.escape(marker) for marker in MARKERS.values()))


def _edge_runs(text: str) -> Tuple[Optional[Tuple[Tail, int, int]], Optional[Tail]]:
    """The run of word-list words ``text`` starts with (with its span) and the one it ends with."""
    lead, tail = _edge_spans(text)
    return lead, tail[0] if tail is not None else None


def _edge_spans(text: str) -> Tuple[Optional[Tuple[Tail, int, int]], Optional[Tuple[Tail, int, int]]]:
    """The runs of word-list words ``text`` starts and ends with, each with its span."""
    # A marker of an earlier pass joins nothing: blank it to a character that is no gap.
    masked = _marker_pattern().sub(lambda m: "\x01" * len(m.group(0)), text)
    chars = _chinese_chars()
    candidates: List[Tuple[str, List[Tuple[str, int, int]]]] = [
        ("en", [[(m.group(0).lower(), m.start(), m.end()) for m in run] for run in _english_runs(masked)]),
        ("zh", [[(m.group(0), m.start(), m.end()) for m in run] for run in _chinese_singles(masked)]),
        ("zh-run", [[(c.group(0), c.start(), c.end())] for c in _CJK_CHUNK.finditer(masked)
                    if len(c.group(0)) > 1 and all(ch in chars for ch in c.group(0))]),
    ]
    lead, tail = None, None
    for script, runs in candidates:
        if not runs:
            continue
        if script == "zh-run" and not (len(runs) == 1 and _WORD_GAP.match(masked[:runs[0][0][1]])
                                       and _WORD_GAP.match(masked[runs[0][0][2]:])):
            continue  # characters written together join only when each message is nothing else
        first, last = runs[0], runs[-1]
        if lead is None and _WORD_GAP.match(masked[:first[0][1]]):
            words = tuple(first[0][0]) if script == "zh-run" else tuple(w for w, _, _ in first)
            lead = (Tail(script, words), first[0][1], first[-1][2])
        if tail is None and _WORD_GAP.match(masked[last[-1][2]:]):
            words = tuple(last[0][0]) if script == "zh-run" else tuple(w for w, _, _ in last)
            tail = (Tail(script, words[-MAX_TAIL_WORDS:]), last[0][1], last[-1][2])
    return lead, tail


def hide_ending(text: str) -> Redaction:
    """``text`` with the run of word-list words it ends with hidden: the first part of a seed phrase
    whose next part arrived in the following message (:attr:`Redaction.continues_previous`)."""
    _, tail = _edge_spans(text or "")
    if tail is None:
        return Redaction(text or "")
    return _apply(text, [Finding("mnemonic", tail[1], tail[2])])


def possible_seed_start(text: str) -> Optional[str]:
    """The run of word-list words ``text`` ends with, as written, when the next message could join it
    into a seed phrase (at least ``MIN_JOINED_WORDS`` words); None otherwise."""
    _, tail = _edge_spans(text or "")
    if tail is None or len(tail[0].words) < MIN_JOINED_WORDS:
        return None
    run = text[tail[1]:tail[2]]
    if tail[0].script == "zh-run" and _read_share(run) >= ALONE_READ_LIMIT:
        return None  # characters written together that read as a sentence ("我的钱包被盗了"), not a draw
    return run


def _joined_secret(script: str, words: Sequence[str]) -> bool:
    if len(words) < MIN_PARTIAL_WORDS:
        return False
    if script == "en":
        # As one message with the whole run would be decided: a checksum-valid phrase is a seed
        # even when half its words are everyday English.
        return _english_secret_run(words, has_cue=False)
    if script == "zh":
        return True
    # Characters written together: two short sentences joined still read, random characters do not.
    # (No checksum here: among the windows of a long join, one in sixteen passes by chance.)
    return _random_chars("".join(words))


def redact_continuing(text: Optional[str], previous: Optional[Tail]) -> Tuple[Redaction, Optional[Tail]]:
    """:func:`redact`, and the start of ``text`` hidden too when it continues ``previous`` into a seed.

    ``previous`` is the :class:`Tail` the conversation's last message ended with
    (None: none, or too long ago). Returns the redaction and this message's tail.
    """
    result = redact(text)
    if not text:
        return result, None
    lead, tail = _edge_runs(text)
    if lead is None:
        return result, tail
    start_run, start, end = lead
    joined = start_run.words
    if previous is not None and previous.script == start_run.script:
        joined = previous.words + start_run.words
        if len(previous.words) >= MIN_JOINED_WORDS and len(start_run.words) >= MIN_JOINED_WORDS \
                and _joined_secret(start_run.script, joined):
            result = _apply(text, _merge(list(result.findings) + [Finding("mnemonic", start, end)]))
            result = Redaction(result.text, result.findings, continues_previous=True)
    if _WORD_GAP.match(text[end:]) and start_run.script != "zh-run":
        # The message is nothing but this run: the run goes on. (Characters written
        # together are judged on this message and the last only, as ordinary
        # sentences run together would read as random over a long stretch.)
        tail = Tail(start_run.script, tuple(joined[-MAX_TAIL_WORDS:]))
    return result, tail
