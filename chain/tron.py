"""TRON over the TronGrid-compatible HTTP API: gettransactionbyid (the body) + gettransactioninfobyid (the receipt).

A txid the first call knows and the second does not is not yet confirmed. ``{}`` is
the API's answer for an unknown txid.
"""

from __future__ import annotations

import asyncio

from chain.facts import (CONFIRMED, FAILED, NOT_FOUND, OUT_OF_BANDWIDTH, OUT_OF_ENERGY, PENDING, REVERTED, TxFacts,
                         transfer_from_log, tron_address, units)
from chain.http import Endpoint

SUN_DECIMALS = 6


def _reason(result: str) -> str:
    result = (result or "").upper()
    if "ENERGY" in result:
        return OUT_OF_ENERGY
    if "BANDWIDTH" in result or result.startswith("NET") or "RESOURCE" in result:
        return OUT_OF_BANDWIDTH
    if result == "REVERT":
        return REVERTED
    return result.lower() or "failed"


async def lookup_tron(endpoint: Endpoint, tx_hash: str) -> TxFacts:
    txid = tx_hash.lower().removeprefix("0x")
    tx, info = await asyncio.gather(endpoint.request("POST", "/wallet/gettransactionbyid", json={"value": txid}),
                                    endpoint.request("POST", "/wallet/gettransactioninfobyid", json={"value": txid}))
    if not tx or not tx.get("txID"):
        return TxFacts("tron", "TRON", txid, NOT_FOUND)
    facts = TxFacts("tron", "TRON", txid, PENDING, symbol="TRX")
    contract = ((tx.get("raw_data") or {}).get("contract") or [{}])[0]
    value = (contract.get("parameter") or {}).get("value") or {}
    facts.sender = tron_address(value.get("owner_address"))
    if contract.get("type") == "TransferContract":
        facts.recipient = tron_address(value.get("to_address"))
        facts.amount = units(int(value.get("amount") or 0), SUN_DECIMALS)
    elif contract.get("type") == "TriggerSmartContract":
        facts.recipient = tron_address(value.get("contract_address"))
        data = (value.get("data") or "").lower()
        if data.startswith("a9059cbb") and len(data) >= 8 + 128 and not (info or {}).get("log"):
            topics = ["ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
                      (value.get("owner_address") or "")[-40:].rjust(64, "0"), data[8:72]]
            transfer = transfer_from_log("tron", value.get("contract_address", ""), topics, data[72:136], tron_address)
            facts.transfers = [transfer] if transfer else []
    if not info or not info.get("id"):
        return facts  # known, not yet in a block
    facts.block = info.get("blockNumber")
    stamp = info.get("blockTimeStamp")
    facts.block_time = int(stamp) // 1000 if stamp else None
    facts.fee = units(int(info.get("fee") or 0), SUN_DECIMALS)
    for log in info.get("log") or []:
        transfer = transfer_from_log("tron", log.get("address", ""), log.get("topics") or [], log.get("data") or "",
                                     tron_address)
        if transfer:
            facts.transfers.append(transfer)
    contract_ret = ((tx.get("ret") or [{}])[0]).get("contractRet") or "SUCCESS"
    receipt_result = (info.get("receipt") or {}).get("result") or "SUCCESS"
    if info.get("result") == "FAILED" or contract_ret != "SUCCESS" or receipt_result != "SUCCESS":
        facts.state = FAILED
        facts.reason = _reason(receipt_result if receipt_result != "SUCCESS" else contract_ret)
    else:
        facts.state = CONFIRMED
    return facts

