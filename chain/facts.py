"""What a lookup found, one shape for every chain, plus amount and address helpers."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

CONFIRMED, PENDING, FAILED, NOT_FOUND = "confirmed", "pending", "failed", "not_found"
# Reasons (for failed and pending states).
OUT_OF_GAS, REVERTED, OUT_OF_ENERGY, OUT_OF_BANDWIDTH = "out_of_gas", "reverted", "out_of_energy", "out_of_bandwidth"
FEE_BELOW_BASE_FEE, NONCE_GAP = "fee_below_base_fee", "nonce_gap"
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
TOKENS_FILE = Path(__file__).resolve().parent.parent / "data/lookups/token_contracts.yml"


@dataclass
class Transfer:
    """A token transfer (ERC-20/TRC-20 Transfer log). Unknown tokens: symbol None, amount in base units."""

    amount: str
    sender: str
    recipient: str
    contract: str
    symbol: Optional[str] = None


@dataclass
class TxFacts:
    chain: str                      # settings name: ethereum, bsc, tron, bitcoin, ...
    label: str                      # Ethereum, BSC, TRON, Bitcoin
    tx_hash: str
    state: str                      # confirmed / pending / failed / not_found
    block: Optional[int] = None
    confirmations: Optional[int] = None
    block_time: Optional[int] = None  # unix seconds
    sender: Optional[str] = None
    recipient: Optional[str] = None
    amount: Optional[str] = None     # native amount, decimal string
    symbol: Optional[str] = None     # native symbol
    transfers: List[Transfer] = field(default_factory=list)
    reason: Optional[str] = None
    fee: Optional[str] = None        # native fee spent, decimal string
    nonce: Optional[int] = None
    next_nonce: Optional[int] = None  # the sender's next nonce on chain (latest)
    fee_cap_gwei: Optional[str] = None
    base_fee_gwei: Optional[str] = None

    @property
    def found(self) -> bool:
        return self.state != NOT_FOUND

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "TxFacts":
        data = dict(data)
        data["transfers"] = [Transfer(**t) for t in data.get("transfers") or []]
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def units(value: int, decimals: int) -> str:
    """Base units → a plain decimal string without trailing zeros (1500000, 6 → "1.5")."""
    amount = Decimal(int(value)).scaleb(-decimals)
    text = format(amount.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


def hex_int(value: Optional[str]) -> Optional[int]:
    return int(value, 16) if isinstance(value, str) and value.startswith("0x") else (value if isinstance(value, int) else None)


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def tron_address(hex_address: Optional[str]) -> Optional[str]:
    """TRON hex address (41…, or the 20 bytes of a log) → base58check (T…)."""
    if not hex_address:
        return None
    raw = hex_address.lower().removeprefix("0x")
    if len(raw) == 40:
        raw = "41" + raw
    try:
        payload = bytes.fromhex(raw)
    except ValueError:
        return hex_address
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number, out = int.from_bytes(data, "big"), ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def tron_hex(address: str) -> str:
    """base58check T… → hex 41… (for the token list)."""
    number = 0
    for char in address:
        number = number * 58 + _B58.index(char)
    return number.to_bytes(25, "big")[:21].hex()


@lru_cache(maxsize=1)
def _tokens() -> Dict[Tuple[str, str], Tuple[str, int]]:
    raw = yaml.safe_load(TOKENS_FILE.read_text(encoding="utf-8")) or {}
    table = {}
    for token in raw.get("tokens") or []:
        contract = str(token["contract"])
        key = tron_hex(contract)[2:] if token["chain"] == "tron" else contract.lower().removeprefix("0x")
        table[(str(token["chain"]), key)] = (str(token["symbol"]), int(token["decimals"]))
    return table


def token(chain: str, contract: str) -> Optional[Tuple[str, int]]:
    """(symbol, decimals) of a curated token, by the contract's 20 address bytes in hex."""
    key = contract.lower().removeprefix("0x")
    if chain == "tron" and len(key) == 42:
        key = key[2:]
    return _tokens().get((chain, key))


def transfer_from_log(chain: str, contract_hex: str, topics: List[str], data: str,
                      address: Any = lambda h: "0x" + h) -> Optional[Transfer]:
    """A Transfer(from, to, value) log (3 topics; ERC-721's 4-topic Transfer is not a token amount)."""
    topics = [t.lower() if t.startswith("0x") else "0x" + t.lower() for t in topics or []]
    if len(topics) != 3 or topics[0] != TRANSFER_TOPIC:
        return None
    value = int(data.removeprefix("0x") or "0", 16)
    known = token(chain, contract_hex)
    return Transfer(
        amount=units(value, known[1]) if known else str(value),
        sender=address(topics[1][-40:]), recipient=address(topics[2][-40:]),
        contract=address(contract_hex.lower().removeprefix("0x")[-40:]),
        symbol=known[0] if known else None,
    )
