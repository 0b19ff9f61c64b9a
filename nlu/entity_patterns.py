"""Token-level entity extraction for the blank ``zh`` spaCy pipeline.

Entities used to come from ``RegexEntityExtractor`` over characters, which cannot
tell that the ``20`` in ``TRC20 USDT`` belongs to a chain name, and so reported the
amount ``20 USDT``. Here entities are matched on tokens by spaCy's ``EntityRuler``:

* the tokenizer is spaCy's own ``ChineseTokenizer`` with the jieba segmenter
  (``spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})``);
* ``wallet_jieba_userdict`` loads the project's jieba user dictionary
  (data/jieba/userdict.txt, copied into the saved pipeline) into jieba, the same
  dictionary Rasa's ``WalletJiebaTokenizer`` loads;
* ``wallet_resegment`` repairs what jieba does to mixed Chinese/English text:
  ``0x…`` hashes, TRON/BTC addresses and ``1,000`` become one token each, every
  vocabulary term (``币安`` in ``到币安``, ``TP钱包``) gets its own token(s), and a number
  is cut off the unit glued to it (``100u`` -> ``100`` ``u``) but never out of a word
  (``TRC20`` stays one token). It flags those free-standing numbers with
  ``token._.wallet_num`` and sets ``token.norm_`` to the lower-cased, Simplified,
  half-width form, so Traditional text and full-width input match too;
* the ``entity_ruler`` holds token patterns: ``chain``, ``token`` (data/lookups),
  ``exchange`` and ``wallet`` (below), ``amount`` (a flagged number, optionally
  ``个``/``枚``, then a unit), ``tx_hash`` and ``address`` (one-token regexes).
  Each vocabulary pattern carries the canonical value as its ``id``.

Importing this module registers the two factories; ``spacy.load`` of a saved
pipeline needs that first. In Rasa, listing ``nlu.entity_patterns.EntityValueCanonicalizer``
in config.yml imports it when the config is read, before ``SpacyNLP`` loads the model.
That component maps the values ``SpacyEntityExtractor`` reports (the matched text) to
the canonical ``id`` of the pattern, as ``EntitySynonymMapper`` does for the lookups.
"""

# No `from __future__ import annotations`: spaCy reads the factories' annotations at run time.

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import yaml
from spacy.language import Language
from spacy.tokens import Doc, Token
from spacy.util import get_words_and_spaces

from safety.text import normalize_for_nlu

ENTITY_TYPES = ("chain", "token", "amount", "exchange", "wallet", "tx_hash", "address")

# canonical value -> spellings. Matched case-insensitively unless in CASE_SENSITIVE.
EXCHANGES: Dict[str, List[str]] = {
    "Binance": ["Binance", "币安", "币安交易所", "币安网"],
    "OKX": ["OKX", "OKEx", "欧易", "欧易交易所", "OK交易所"],
    "Huobi": ["Huobi", "HTX", "火币", "火币网", "火币交易所"],
    "Bybit": ["Bybit"],
    "Coinbase": ["Coinbase"],
    "Gate": ["Gate", "Gate.io", "芝麻开门"],
    "KuCoin": ["KuCoin", "库币"],
    "Bitget": ["Bitget"],
    "MEXC": ["MEXC", "抹茶", "抹茶交易所"],
    "Kraken": ["Kraken"],
    "Bitfinex": ["Bitfinex"],
    # Well-known exchanges beyond the Chinese users' usual ones (real English messages name them).
    "Poloniex": ["Poloniex", "P网"],
    "Bithumb": ["Bithumb"],
    "Upbit": ["Upbit"],
    "Bitstamp": ["Bitstamp"],
    "Gemini": ["Gemini"],
    "Crypto.com": ["Crypto.com"],
    "HitBTC": ["HitBTC"],
    "Bittrex": ["Bittrex"],
}
WALLETS: Dict[str, List[str]] = {
    "MetaMask": ["MetaMask", "Meta Mask", "小狐狸", "小狐狸钱包", "狐狸钱包"],
    "Trust Wallet": ["Trust Wallet", "TrustWallet", "信任钱包"],
    "imToken": ["imToken", "im Token"],
    "TokenPocket": ["TokenPocket", "Token Pocket", "TP钱包", "TP Wallet", "TP 钱包"],
    "TronLink": ["TronLink", "TronLink Pro", "波宝钱包", "波宝"],
    "OKX Wallet": ["OKX Wallet", "OKX钱包", "欧易钱包", "OKX Web3钱包", "欧易Web3钱包"],
    "Phantom": ["Phantom", "幻影钱包"],
    "Ledger": ["Ledger", "Ledger Nano"],
    "Trezor": ["Trezor"],
    "Bitget Wallet": ["Bitget Wallet", "Bitget钱包", "BitKeep"],
    "SafePal": ["SafePal"],
    "Coinbase Wallet": ["Coinbase Wallet"],
    "Binance Wallet": ["Binance Wallet", "Binance Web3 Wallet", "币安钱包", "币安Web3钱包"],
    # Other widely used wallets, by their product names.
    "Electrum": ["Electrum"],
    "Atomic Wallet": ["Atomic Wallet", "AtomicWallet"],
    "Exodus": ["Exodus"],
    "Keplr": ["Keplr"],
    "Rabby": ["Rabby", "Rabby Wallet"],
    "Rainbow": ["Rainbow Wallet"],
    "Sparrow": ["Sparrow Wallet"],
    "Copay": ["Copay"],
    "BitPay": ["BitPay", "BitPay Wallet"],
    "Mycelium": ["Mycelium"],
    "Jaxx": ["Jaxx", "Jaxx Liberty"],
    "Coinomi": ["Coinomi"],
    "OneKey": ["OneKey"],
    "Math Wallet": ["MathWallet", "Math Wallet", "麦子钱包"],
    "Bitpie": ["Bitpie", "比特派"],
    "Sollet": ["Sollet"],
    "Solflare": ["Solflare"],
    "Tonkeeper": ["Tonkeeper"],
    "Neon Wallet": ["Neon Wallet"],
    "UniSat": ["UniSat", "UniSat Wallet", "unisat钱包"],
    "Xverse": ["Xverse"],
    "Keystone": ["Keystone"],
    "Zerion": ["Zerion"],
    "BlueWallet": ["BlueWallet", "Blue Wallet"],
    "Fluent": ["Fluent Wallet", "Fluent钱包"],
    "Ledger Live": ["Ledger Live"],
}
# Short spellings that are ordinary English words in lower case ("gate", "ton", "dai").
CASE_SENSITIVE: Set[str] = {"TON", "Gate", "DAI", "HTX"}
# Units an amount can end with besides the token names (data/lookups/tokens.yml).
EXTRA_UNITS = ["u", "刀", "美元", "美金", "usd"]
COUNTERS = ["个", "枚"]

# Identifiers: one token each, matched on the whole token.
TX_HASH_RE = r"(?:0[xX])?[0-9a-fA-F]{64}"
ADDRESS_RES = [
    r"0[xX][0-9a-fA-F]{40}",  # EVM
    r"T[1-9A-HJ-NP-Za-km-z]{33}",  # TRON
    r"(?:bc1|BC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{11,71}",  # BTC bech32
    r"[13](?=[1-9A-HJ-NP-Za-km-z]*[A-Za-z])(?=[1-9A-HJ-NP-Za-km-z]*[1-9])[1-9A-HJ-NP-Za-km-z]{25,34}",  # BTC legacy
]
# Spans kept whole however jieba cut them (longest first; order matters).
_ATOMIC_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    + "|".join([TX_HASH_RE] + ADDRESS_RES + [r"0[xX][0-9a-fA-F]+"])
    + r")(?![0-9A-Za-z])"
)
_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
# A free-standing number: not glued to a preceding letter, digit or separator, so the
# "20" of "TRC20"/"ERC-20" never qualifies.
_NUMBER = r"(?<![A-Za-z0-9_.,\-])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![0-9])(?:万|千)?"


def norm_text(text: str) -> str:
    """What patterns are matched on: Simplified, half-width, lower case."""
    return normalize_for_nlu(text).lower()


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _term_regex(term: str) -> str:
    """A vocabulary term as a regex: Latin edges need a non-letter beside them."""
    body = r"\s*".join(re.escape(part) for part in term.split())
    if not term.split()[0][0].isascii() or not term[0].isalnum():
        head = ""
    else:
        head = r"(?<![A-Za-z])"  # a digit before is fine: "100USDT"
    tail = r"(?![A-Za-z0-9])" if _is_latin(term[-1]) else ""
    body = head + body + tail
    return body if term in CASE_SENSITIVE else f"(?i:{body})"


Token.set_extension("wallet_num", default=False, force=True)


@dataclass
class Resegmenter:
    """Computes token boundaries for ``wallet_resegment`` (see the module docstring)."""

    terms: List[str] = field(default_factory=list)
    units: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        terms = sorted(set(self.terms), key=lambda t: (-len(t), t))
        self._term_re = re.compile("|".join(_term_regex(t) for t in terms)) if terms else None
        units = sorted({u.lower() for u in self.units}, key=lambda t: (-len(t), t))
        unit_alt = "|".join(re.escape(u) + (r"(?![a-z])" if _is_latin(u[-1]) else "") for u in units)
        counter = "(?:" + "|".join(COUNTERS) + ")?"
        cn_number = rf"(?<![{_CN_DIGITS}])[{_CN_DIGITS}]+(?=\s*{counter}\s*(?i:{unit_alt}))" if units else None
        self._number_re = re.compile(_NUMBER + (f"|{cn_number}" if cn_number else ""))
        # the unit right after a number, so "300刀到" gives "刀" its own token
        self._unit_re = re.compile(rf"\s*{counter}\s*(?i:({unit_alt}))") if units else None

    def spans(self, text: str) -> Tuple[List[Tuple[int, int]], List[Tuple[int, int]], List[Tuple[int, int]]]:
        """(atomic identifier spans, vocabulary and unit spans, number spans) in ``text``."""
        norm = normalize_for_nlu(text)  # length-preserving, so offsets hold for ``text``
        atomic = [m.span() for m in _ATOMIC_RE.finditer(norm)]
        masked = list(norm)
        for start, end in atomic:
            masked[start:end] = " " * (end - start)
        masked_text = "".join(masked)
        vocab = [m.span() for m in self._term_re.finditer(masked_text)] if self._term_re else []
        numbers = [
            m.span()
            for m in self._number_re.finditer(masked_text)
            if not any(vs < m.end() and m.start() < ve for vs, ve in vocab)
        ]
        if self._unit_re is not None:
            for _start, end in numbers:
                unit = self._unit_re.match(masked_text, end)
                if unit:
                    vocab.append(unit.span(1))
        return atomic, vocab, numbers

    def words(self, text: str, pieces: Iterable[Tuple[int, int]]) -> Tuple[List[str], Set[int]]:
        """Words covering ``text`` from jieba's pieces (start, end) with our spans forced in.

        Returns the words (no whitespace) and the start offsets of free-standing numbers.
        """
        atomic, vocab, numbers = self.spans(text)
        cuts: Set[int] = {0, len(text)}
        for start, end in pieces:
            cuts.update((start, end))
        for start, end in atomic + numbers + vocab:
            cuts.update((start, end))
            if not any(ch.isspace() for ch in text[start:end]):
                cuts.difference_update(range(start + 1, end))
        number_spans = set(numbers)
        words: List[str] = []
        number_starts: Set[int] = set()
        ordered = sorted(cuts)
        for start, end in zip(ordered, ordered[1:]):
            for m in re.finditer(r"\S+", text[start:end]):
                if (start + m.start(), start + m.end()) in number_spans:
                    number_starts.add(start + m.start())
                words.append(m.group())
        return words, number_starts


@Language.factory("wallet_jieba_userdict", default_config={})
def make_jieba_userdict(nlp: Language, name: str) -> "JiebaUserDict":
    return JiebaUserDict()


class JiebaUserDict:
    """Loads the saved jieba user dictionary into jieba (the tokenizer's segmenter)."""

    FILE = "userdict.txt"

    def __init__(self) -> None:
        self.text = ""

    def set_text(self, text: str) -> None:
        self.text = text
        self._load()

    def _load(self) -> None:
        if not self.text.strip():
            return
        import io

        import jieba

        jieba.load_userdict(io.StringIO(self.text))

    def __call__(self, doc: Doc) -> Doc:
        return doc

    def to_disk(self, path: Path, exclude: Sequence[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / self.FILE).write_text(self.text, encoding="utf-8")

    def from_disk(self, path: Path, exclude: Sequence[str] = ()) -> "JiebaUserDict":
        file = Path(path) / self.FILE
        self.text = file.read_text(encoding="utf-8") if file.exists() else ""
        self._load()
        return self


@Language.factory("wallet_resegment", default_config={})
def make_resegment(nlp: Language, name: str) -> "Resegment":
    return Resegment(nlp)


class Resegment:
    """Rebuilds the Doc with token boundaries repaired (see the module docstring)."""

    FILE = "resegment.json"

    def __init__(self, nlp: Language) -> None:
        self.vocab = nlp.vocab
        self.set_vocabulary([], [])

    def set_vocabulary(self, terms: List[str], units: List[str]) -> None:
        self.terms = sorted(set(terms))
        self.units = sorted(set(units))
        self.segmenter = Resegmenter(self.terms, self.units)

    def __call__(self, doc: Doc) -> Doc:
        text = doc.text
        pieces = [(t.idx, t.idx + len(t.text)) for t in doc if not t.is_space]
        words, number_starts = self.segmenter.words(text, pieces)
        if words:
            words, spaces = get_words_and_spaces(words, text)
        else:  # empty or whitespace-only text
            words, spaces = ([text], [False]) if text else ([], [])
        new = Doc(self.vocab, words=words, spaces=spaces)
        for token in new:
            token.norm_ = norm_text(token.text)
            if token.idx in number_starts:
                token._.wallet_num = True
        return new

    def to_disk(self, path: Path, exclude: Sequence[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        data = {"terms": self.terms, "units": self.units}
        (path / self.FILE).write_text(json.dumps(data, ensure_ascii=False, indent=0, sort_keys=True), encoding="utf-8")

    def from_disk(self, path: Path, exclude: Sequence[str] = ()) -> "Resegment":
        data = json.loads((Path(path) / self.FILE).read_text(encoding="utf-8"))
        self.set_vocabulary(data["terms"], data["units"])
        return self


# ----------------------------------------------------------------------------------
# Vocabulary from data/lookups and the patterns built from it.


def _read_nlu(path: Path) -> List[Dict[str, Any]]:
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []


def _examples(block: Dict[str, Any]) -> List[str]:
    lines = (block.get("examples") or "").splitlines()
    return [line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")]


def lookup_vocabulary(lookups_dir: Path) -> Dict[str, Dict[str, str]]:
    """{entity: {spelling: canonical}} for the lookup tables in ``lookups_dir``.

    A spelling listed under a ``synonym`` maps to it (case-insensitively, like
    ``EntitySynonymMapper``); synonyms' spellings are matched too.
    """
    lookups: Dict[str, List[str]] = {}
    synonyms: Dict[str, str] = {}
    for file in sorted(Path(lookups_dir).glob("*.yml")):
        for block in _read_nlu(file):
            if "lookup" in block:
                lookups.setdefault(block["lookup"], []).extend(_examples(block))
            elif "synonym" in block:
                for spelling in _examples(block):
                    synonyms[spelling.lower()] = str(block["synonym"])
    vocab: Dict[str, Dict[str, str]] = {}
    for entity, spellings in lookups.items():
        table = vocab.setdefault(entity, {})
        lowered = {s.lower() for s in spellings}
        for spelling in spellings:
            table[spelling] = synonyms.get(spelling.lower(), spelling)
        for spelling, canonical in synonyms.items():
            # a synonym spelling of this entity's values (e.g. "bnb chain")
            if spelling not in lowered and canonical in set(table.values()):
                table[spelling] = canonical
    return vocab


def full_vocabulary(lookups_dir: Path) -> Dict[str, Dict[str, str]]:
    vocab = lookup_vocabulary(lookups_dir)
    for entity, table in (("exchange", EXCHANGES), ("wallet", WALLETS)):
        vocab[entity] = {s: canonical for canonical, spellings in table.items() for s in spellings}
    return vocab


def _dedupe_spellings(vocab: Dict[str, Dict[str, str]]) -> List[Tuple[str, str, str]]:
    """(entity, spelling, canonical), one per case-insensitive spelling, sorted."""
    seen: Dict[Tuple[str, str], Tuple[str, str, str]] = {}
    for entity in sorted(vocab):
        for spelling in sorted(vocab[entity]):
            key = (entity, spelling if spelling in CASE_SENSITIVE else spelling.lower())
            seen.setdefault(key, (entity, spelling, vocab[entity][spelling]))
    return sorted(seen.values())


def units_for(vocab: Dict[str, Dict[str, str]]) -> List[str]:
    return sorted({s.lower() for s in vocab.get("token", {})} | set(EXTRA_UNITS))


def _term_tokens(spelling: str) -> List[Dict[str, Any]]:
    if spelling in CASE_SENSITIVE:
        return [{"TEXT": part} for part in spelling.split()]
    return [{"NORM": norm_text(part)} for part in spelling.split()]


def build_patterns(vocab: Dict[str, Dict[str, str]]) -> List[Dict[str, Any]]:
    patterns: List[Dict[str, Any]] = []
    for entity, spelling, canonical in _dedupe_spellings(vocab):
        patterns.append({"label": entity, "pattern": _term_tokens(spelling), "id": canonical})
    units = units_for(vocab)
    patterns.append(
        {
            "label": "amount",
            "pattern": [
                {"_": {"wallet_num": True}},
                {"NORM": {"IN": COUNTERS}, "OP": "?"},
                {"NORM": {"IN": units}},
            ],
        }
    )
    patterns.append({"label": "tx_hash", "pattern": [{"TEXT": {"REGEX": rf"^{TX_HASH_RE}$"}}]})
    for regex in ADDRESS_RES:
        patterns.append({"label": "address", "pattern": [{"TEXT": {"REGEX": rf"^{regex}$"}}]})
    return patterns


def canonical_table(nlp: Language) -> Dict[Tuple[str, str], str]:
    """(label, normalised text) -> canonical value, from the entity ruler's patterns."""
    table: Dict[Tuple[str, str], str] = {}
    if "entity_ruler" not in nlp.pipe_names:
        return table
    for pattern in nlp.get_pipe("entity_ruler").patterns:
        if "id" not in pattern or not isinstance(pattern["pattern"], list):
            continue
        words = [next(iter(p.values())) for p in pattern["pattern"]]
        table[(pattern["label"], _canon_key(" ".join(words)))] = pattern["id"]
    return table


def _canon_key(text: str) -> str:
    return "".join(norm_text(text).split())


def canonical_value(table: Dict[Tuple[str, str], str], label: str, text: str) -> str:
    return table.get((label, _canon_key(text)), text)


def entities(nlp: Language, text: str) -> List[Dict[str, Any]]:
    """Rasa-style entities (canonical values) from the pipeline, for tests and the bench."""
    table = canonical_table(nlp)
    doc = nlp(text)
    return [
        {
            "entity": ent.label_,
            "start": ent.start_char,
            "end": ent.end_char,
            "text": ent.text,
            "value": ent.ent_id_ or canonical_value(table, ent.label_, ent.text),
        }
        for ent in doc.ents
    ]


# ----------------------------------------------------------------------------------
# Rasa: canonical values for what SpacyEntityExtractor found. Imported from config.yml,
# which also makes the factories above known before SpacyNLP calls spacy.load.

try:  # pragma: no cover - exercised when Rasa is installed, i.e. always in this project
    from rasa.engine.graph import ExecutionContext, GraphComponent
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.resource import Resource
    from rasa.engine.storage.storage import ModelStorage
    from rasa.nlu.extractors.extractor import EntityExtractorMixin
    from rasa.shared.nlu.constants import ENTITIES
    from rasa.shared.nlu.training_data.message import Message
except ImportError:  # spaCy-only use (spacy.load outside Rasa)
    GraphComponent = None  # type: ignore

if GraphComponent is not None:

    @DefaultV1Recipe.register(
        DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False, model_from="SpacyNLP"
    )
    class EntityValueCanonicalizer(GraphComponent, EntityExtractorMixin):
        """Sets each spaCy entity's value to its pattern's canonical id (``币安`` -> Binance)."""

        @classmethod
        def create(
            cls,
            config: Dict[str, Any],
            model_storage: ModelStorage,
            resource: Resource,
            execution_context: ExecutionContext,
        ) -> "EntityValueCanonicalizer":
            return cls()

        def __init__(self) -> None:
            self._tables: Dict[int, Dict[Tuple[str, str], str]] = {}

        def process(self, messages: List[Message], model: Any) -> List[Message]:
            nlp = model.model
            table = self._tables.get(id(nlp))
            if table is None:
                table = self._tables[id(nlp)] = canonical_table(nlp)
            for message in messages:
                for entity in message.get(ENTITIES) or []:
                    if entity.get("extractor") != "SpacyEntityExtractor":
                        continue
                    value = entity.get("value")
                    if isinstance(value, str):
                        canonical = canonical_value(table, entity.get("entity", ""), value)
                        if canonical != value:
                            entity["value"] = canonical
                            entity.setdefault("processors", []).append(self.__class__.__name__)
            return messages
