"""EVM chains over plain JSON-RPC (batched: two round trips for a mined transaction)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from chain.facts import (CONFIRMED, FAILED, FEE_BELOW_BASE_FEE, NONCE_GAP, NOT_FOUND, OUT_OF_GAS, PENDING, REVERTED,
                         TxFacts, hex_int, transfer_from_log, units)
from chain.http import Endpoint, EndpointDown


async def rpc_batch(endpoint: Endpoint, calls: List[tuple]) -> List[Any]:
    """Results of ``[(method, params), …]`` in order; an error object or a malformed answer is EndpointDown."""
    body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    answer = await endpoint.request("POST", json=body)
    if not isinstance(answer, list):
        raise EndpointDown(f"{endpoint.url}: not a JSON-RPC batch answer")
    by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
    results = []
    for i, (method, _params) in enumerate(calls):
        item = by_id.get(i)
        if item is None or "error" in item:
            raise EndpointDown(f"{endpoint.url}: {method} failed: {(item or {}).get('error')}")
        results.append(item.get("result"))
    return results


def _gwei(wei: Optional[int]) -> Optional[str]:
    return None if wei is None else units(wei, 9)


async def lookup_evm(endpoint: Endpoint, chain: str, label: str, native_symbol: str, tx_hash: str) -> TxFacts:
    tx_hash = tx_hash if tx_hash.lower().startswith("0x") else "0x" + tx_hash
    tx, receipt, head = await rpc_batch(endpoint, [("eth_getTransactionByHash", [tx_hash]),
                                                   ("eth_getTransactionReceipt", [tx_hash]),
                                                   ("eth_blockNumber", [])])
    if not tx:
        return TxFacts(chain, label, tx_hash, NOT_FOUND)
    sender, value = tx.get("from"), hex_int(tx.get("value")) or 0
    facts = TxFacts(chain, label, tx_hash, PENDING, sender=sender, recipient=tx.get("to"),
                    amount=units(value, 18), symbol=native_symbol, nonce=hex_int(tx.get("nonce")))
    facts.transfers = _transfers(chain, tx, receipt)
    if not receipt or receipt.get("blockNumber") is None:
        return await _pending(endpoint, facts, tx)
    block = hex_int(receipt["blockNumber"])
    facts.block = block
    facts.confirmations = max(0, hex_int(head) - block + 1) if head else None
    facts.recipient = tx.get("to") or receipt.get("contractAddress")
    gas_used = hex_int(receipt.get("gasUsed")) or 0
    price = hex_int(receipt.get("effectiveGasPrice")) or hex_int(tx.get("gasPrice")) or 0
    facts.fee = units(gas_used * price, 18)
    if hex_int(receipt.get("status")) == 1:
        facts.state = CONFIRMED
    else:
        facts.state = FAILED
        facts.reason = OUT_OF_GAS if gas_used >= (hex_int(tx.get("gas")) or 0) else REVERTED
    try:
        (block_info,) = await rpc_batch(endpoint, [("eth_getBlockByNumber", [hex(block), False])])
        facts.block_time = hex_int((block_info or {}).get("timestamp"))
    except EndpointDown:
        pass  # the state is known; the time is a nicety
    return facts


def _transfers(chain: str, tx: Dict[str, Any], receipt: Optional[Dict[str, Any]]) -> list:
    if receipt:
        found = [transfer_from_log(chain, log.get("address", ""), log.get("topics") or [], log.get("data") or "0x")
                 for log in receipt.get("logs") or []]
        return [t for t in found if t is not None]
    # Not mined yet: a plain transfer(to, value) call says what it will move.
    data = (tx.get("input") or "0x").lower()
    if data.startswith("0xa9059cbb") and len(data) >= 10 + 128 and tx.get("to"):
        topics = ["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
                  "0x" + (tx.get("from") or "0x").lower().removeprefix("0x").rjust(64, "0"), "0x" + data[10:74]]
        transfer = transfer_from_log(chain, tx["to"], topics, "0x" + data[74:138])
        return [transfer] if transfer else []
    return []


async def _pending(endpoint: Endpoint, facts: TxFacts, tx: Dict[str, Any]) -> TxFacts:
    """Why it waits: an earlier nonce of the sender still unmined, or a fee cap below the base fee."""
    try:
        latest, _pending_count, history = await rpc_batch(endpoint, [
            ("eth_getTransactionCount", [facts.sender, "latest"]),
            ("eth_getTransactionCount", [facts.sender, "pending"]),
            ("eth_feeHistory", ["0x1", "latest", []]),
        ])
    except EndpointDown:
        return facts  # pending, reason unknown
    facts.next_nonce = hex_int(latest)
    base_fees = (history or {}).get("baseFeePerGas") or []
    next_base_fee = hex_int(base_fees[-1]) if base_fees else None
    fee_cap = hex_int(tx.get("maxFeePerGas")) or hex_int(tx.get("gasPrice"))
    facts.fee_cap_gwei, facts.base_fee_gwei = _gwei(fee_cap), _gwei(next_base_fee)
    if facts.nonce is not None and facts.next_nonce is not None and facts.nonce > facts.next_nonce:
        facts.reason = NONCE_GAP
    elif fee_cap is not None and next_base_fee is not None and fee_cap < next_base_fee:
        facts.reason = FEE_BELOW_BASE_FEE
    return facts
