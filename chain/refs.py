"""Recognise a transaction reference in a user's (already redacted) message.

PRIVACY: 64 hex digits may be a private key as well as a transaction hash (with or
without ``0x``). A candidate is a reference *by construction* only when it sits in a
block explorer link, or an explicit hash cue (哈希 / 交易哈希 / TxID / hash / tx) stands
right next to it. Anything else is only a candidate: the bot asks the user before it
sends it anywhere (actions/tx_lookup.py), and never stores it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, List, Optional

HASH = r"(?:0x)?[0-9a-fA-F]{64}"
_BARE = re.compile(rf"(?<![0-9A-Za-z])({HASH})(?![0-9A-Za-z])")

# Explorer links carry the chain. Hosts are matched with any subdomain (www., cn.).
_EVM_LINK = re.compile(
    rf"(?:https?://)?(?:[a-z0-9-]+\.)*(etherscan\.io|bscscan\.com|polygonscan\.com|arbiscan\.io)/tx/(0x[0-9a-fA-F]{{64}})(?![0-9A-Za-z])",
    re.I)
_TRONSCAN = re.compile(rf"(?:https?://)?(?:[a-z0-9-]+\.)*tronscan\.(?:org|io)/#/transaction/([0-9a-fA-F]{{64}})(?![0-9A-Za-z])", re.I)
_MEMPOOL = re.compile(rf"(?:https?://)?(?:[a-z0-9-]+\.)*mempool\.space/(?:[a-z0-9-]+/)?tx/([0-9a-fA-F]{{64}})(?![0-9A-Za-z])", re.I)
_BLOCKCHAIR = re.compile(rf"(?:https?://)?(?:[a-z0-9-]+\.)*blockchair\.com/([a-z-]+)/transaction/({HASH})(?![0-9A-Za-z])", re.I)

EVM_HOSTS = {"etherscan.io": "ethereum", "bscscan.com": "bsc", "polygonscan.com": "polygon", "arbiscan.io": "arbitrum"}
BLOCKCHAIR_CHAINS = {"bitcoin": "bitcoin", "ethereum": "ethereum", "tron": "tron", "bnb": "bsc",
                     "binance-smart-chain": "bsc", "polygon": "polygon", "arbitrum-one": "arbitrum", "arbitrum": "arbitrum"}

# An explicit cue right before the hash ("交易哈希 0x…", "TxID: …", "hash=…") …
_CUE_BEFORE = re.compile(
    r"(?:交易哈希|交易hash|哈希值|哈希|交易id|交易ID|(?<![A-Za-z])(?:tx\s*id|txid|tx\s*hash|txhash|transaction\s*(?:hash|id)|hash|tx))"
    r"\s*(?:值|号|是|为|is)?\s*[:：=#]?\s*[\"'“”‘’「」(（]?\s*$",
    re.I)
# … or right after it ("0x… 是交易哈希", "0x… (txid)").
_CUE_AFTER = re.compile(
    r"^\s*[\"'“”‘’「」)）]?\s*[(（]?\s*(?:是|为|is)?\s*(?:我的|这笔|my|the|a)?\s*"
    r"(?:交易哈希|交易hash|哈希|交易id|(?:tx\s*id|txid|tx\s*hash|transaction\s*(?:hash|id)|hash)(?![A-Za-z]))",
    re.I)
CUE_WINDOW = 24

# Canonical chain entity values (data/lookups/chains.yml synonyms) → settings chain names.
ENTITY_CHAINS = {"ethereum": "ethereum", "erc20": "ethereum", "tron": "tron", "trc20": "tron", "bsc": "bsc",
                 "bep20": "bsc", "bnb chain": "bsc", "polygon": "polygon", "arbitrum": "arbitrum",
                 "bitcoin": "bitcoin", "btc": "bitcoin"}


@dataclass(frozen=True)
class TxRef:
    """One candidate: the hash as written, the chain its link names, and whether it is a reference by construction."""

    tx_hash: str
    chain: Optional[str]      # from an explorer link, else None
    explicit: bool            # link or adjacent cue: may be looked up without asking
    source: str               # "link", "cue" or "bare"

    @property
    def evm_shaped(self) -> bool:
        return self.tx_hash.lower().startswith("0x")


def _link_refs(text: str) -> List[tuple]:
    found = []
    for match in _EVM_LINK.finditer(text):
        found.append((match.start(), match.end(), match.group(2), EVM_HOSTS[match.group(1).lower()]))
    for match in _TRONSCAN.finditer(text):
        found.append((match.start(), match.end(), match.group(1), "tron"))
    for match in _MEMPOOL.finditer(text):
        found.append((match.start(), match.end(), match.group(1), "bitcoin"))
    for match in _BLOCKCHAIR.finditer(text):
        found.append((match.start(), match.end(), match.group(2), BLOCKCHAIR_CHAINS.get(match.group(1).lower())))
    return found


def find_refs(text: str) -> List[TxRef]:
    """Every candidate in the message, links first, in order of appearance; no duplicates."""
    text = text or ""
    refs: List[TxRef] = []
    spans = []
    for start, end, tx_hash, chain in sorted(_link_refs(text)):
        spans.append((start, end))
        refs.append(TxRef(tx_hash, chain, True, "link"))
    for match in _BARE.finditer(text):
        if any(start <= match.start() < end for start, end in spans):
            continue
        before = text[max(0, match.start() - CUE_WINDOW):match.start()]
        after = text[match.end():match.end() + CUE_WINDOW]
        cued = bool(_CUE_BEFORE.search(before) or _CUE_AFTER.search(after))
        refs.append(TxRef(match.group(1), None, cued, "cue" if cued else "bare"))
    unique, seen = [], set()
    for ref in refs:
        key = ref.tx_hash.lower().removeprefix("0x")
        if key not in seen:
            seen.add(key)
            unique.append(ref)
    return unique


def first_ref(text: str) -> Optional[TxRef]:
    refs = find_refs(text)
    return refs[0] if refs else None


def chain_from_words(values: Iterable[Optional[str]]) -> Optional[str]:
    """The first chain the user named (entity or slot value) that the lookup knows."""
    for value in values:
        if value and value.strip().lower() in ENTITY_CHAINS:
            return ENTITY_CHAINS[value.strip().lower()]
    return None
