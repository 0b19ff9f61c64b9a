"""Bitcoin over an Esplora REST API: GET /tx/:txid (404 = unknown) and /blocks/tip/height for confirmations."""

from __future__ import annotations

import asyncio

from chain.facts import CONFIRMED, NOT_FOUND, PENDING, TxFacts, units
from chain.http import Endpoint

SAT_DECIMALS = 8


async def lookup_btc(endpoint: Endpoint, tx_hash: str) -> TxFacts:
    txid = tx_hash.lower().removeprefix("0x")
    tx, tip = await asyncio.gather(endpoint.request("GET", f"/tx/{txid}"),
                                   endpoint.request("GET", "/blocks/tip/height", expect_json=False),
                                   return_exceptions=True)
    if isinstance(tx, BaseException):
        raise tx
    if not tx:
        return TxFacts("bitcoin", "Bitcoin", txid, NOT_FOUND)
    inputs = [(i.get("prevout") or {}).get("scriptpubkey_address") for i in tx.get("vin") or []]
    sender = next((a for a in inputs if a), None)
    outputs = [(o.get("scriptpubkey_address"), int(o.get("value") or 0)) for o in tx.get("vout") or []]
    paid = [(a, v) for a, v in outputs if a and a not in inputs] or [(a, v) for a, v in outputs if a]
    status = tx.get("status") or {}
    facts = TxFacts("bitcoin", "Bitcoin", txid, CONFIRMED if status.get("confirmed") else PENDING, sender=sender,
                    recipient=paid[0][0] if paid else None, amount=units(sum(v for _a, v in paid), SAT_DECIMALS),
                    symbol="BTC", fee=units(int(tx.get("fee") or 0), SAT_DECIMALS))
    if status.get("confirmed"):
        facts.block, facts.block_time = status.get("block_height"), status.get("block_time")
        if not isinstance(tip, (BaseException, type(None))) and str(tip).strip().isdigit() and facts.block is not None:
            facts.confirmations = int(str(tip).strip()) - facts.block + 1
    return facts

