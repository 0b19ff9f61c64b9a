"""Loopback stand-ins for the chain endpoints: TronGrid HTTP API, Esplora, and a counting JSON-RPC proxy.

The TRON and Esplora answers have the shape of the public API docs' examples
(TronGrid ``wallet/gettransactionbyid`` / ``wallet/gettransactioninfobyid``: an empty
object for an unknown txid, no info while unconfirmed; Esplora ``/tx/:txid``: 404 for
an unknown txid, ``status.confirmed``/``block_height``). Every request is recorded, so
a test can count them and check what was sent. ``delay`` makes a slow endpoint.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
from aiohttp import web

from tests.servers import free_ports

USDT_TRON_HEX = "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"  # TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t
TRANSFER = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
TRON_OWNER = "41" + "8840e6c55b9ada326d211d818c34a994aeced808"
TRON_TO = "41" + "2a3f2c8a2b44d2f4a0e1f7c4b1d2e3f4a5b6c7d8"

TRON_OK_TRX = "a1" * 32
TRON_OK_USDT = "b2" * 32
TRON_OUT_OF_ENERGY = "c3" * 32
TRON_PENDING = "d4" * 32
BTC_CONFIRMED = "e5" * 32
BTC_PENDING = "f6" * 32


def _tron_tx(txid: str, contract: Dict[str, Any], ret: str = "SUCCESS") -> Dict[str, Any]:
    return {"ret": [{"contractRet": ret}], "signature": ["0" * 130], "txID": txid,
            "raw_data": {"contract": [contract], "ref_block_bytes": "c1a3", "ref_block_hash": "6b8e1c0d2f3a4b5c",
                         "expiration": 1714000060000, "fee_limit": 100000000, "timestamp": 1714000000000},
            "raw_data_hex": "0a02c1a3"}


def _usdt_call(txid: str, amount: int, ret: str = "SUCCESS") -> Dict[str, Any]:
    data = "a9059cbb" + TRON_TO[2:].rjust(64, "0") + hex(amount)[2:].rjust(64, "0")
    return _tron_tx(txid, {"parameter": {"value": {"data": data, "owner_address": TRON_OWNER, "contract_address": USDT_TRON_HEX},
                                         "type_url": "type.googleapis.com/protocol.TriggerSmartContract"},
                           "type": "TriggerSmartContract"}, ret)


TRON_TXS = {
    TRON_OK_TRX: _tron_tx(TRON_OK_TRX, {"parameter": {"value": {"amount": 25_000_000, "owner_address": TRON_OWNER, "to_address": TRON_TO},
                                                      "type_url": "type.googleapis.com/protocol.TransferContract"},
                                        "type": "TransferContract"}),
    TRON_OK_USDT: _usdt_call(TRON_OK_USDT, 100_000_000),
    TRON_OUT_OF_ENERGY: _usdt_call(TRON_OUT_OF_ENERGY, 50_000_000, ret="OUT_OF_ENERGY"),
    TRON_PENDING: _usdt_call(TRON_PENDING, 7_000_000),
}
TRON_INFOS = {
    TRON_OK_TRX: {"id": TRON_OK_TRX, "fee": 1_100_000, "blockNumber": 61_234_560, "blockTimeStamp": 1714000003000,
                  "receipt": {"net_fee": 1_100_000}},
    TRON_OK_USDT: {"id": TRON_OK_USDT, "fee": 13_844_850, "blockNumber": 61_234_567, "blockTimeStamp": 1714000003000,
                   "contractResult": [""], "contract_address": USDT_TRON_HEX,
                   "receipt": {"energy_fee": 13_499_850, "energy_usage_total": 64_285, "net_fee": 345_000, "result": "SUCCESS"},
                   "log": [{"address": USDT_TRON_HEX[2:],
                            "topics": [TRANSFER, TRON_OWNER[2:].rjust(64, "0"), TRON_TO[2:].rjust(64, "0")],
                            "data": hex(100_000_000)[2:].rjust(64, "0")}]},
    TRON_OUT_OF_ENERGY: {"id": TRON_OUT_OF_ENERGY, "fee": 27_255_900, "blockNumber": 61_234_570, "blockTimeStamp": 1714000012000,
                         "contractResult": [""], "contract_address": USDT_TRON_HEX, "result": "FAILED",
                         "resMessage": "4e6f7420656e6f75676820656e65726779",
                         "receipt": {"energy_fee": 27_255_900, "energy_usage_total": 64_895, "net_usage": 345, "result": "OUT_OF_ENERGY"}},
}

BTC_FROM, BTC_TO = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"


def _btc_tx(txid: str, confirmed: bool) -> Dict[str, Any]:
    status = ({"confirmed": True, "block_height": 870_000, "block_hash": "00000000000000000001" + "ab" * 22, "block_time": 1730000000}
              if confirmed else {"confirmed": False})
    return {"txid": txid, "version": 2, "locktime": 0,
            "vin": [{"txid": "f4" * 32, "vout": 0, "prevout": {"scriptpubkey": "0014" + "e8" * 20, "scriptpubkey_type": "v0_p2wpkh",
                                                              "scriptpubkey_address": BTC_FROM, "value": 150_000},
                     "scriptsig": "", "witness": [], "is_coinbase": False, "sequence": 4294967293}],
            "vout": [{"scriptpubkey": "0014" + "31" * 20, "scriptpubkey_type": "v0_p2wpkh", "scriptpubkey_address": BTC_TO, "value": 100_000},
                     {"scriptpubkey": "0014" + "e8" * 20, "scriptpubkey_type": "v0_p2wpkh", "scriptpubkey_address": BTC_FROM, "value": 45_000}],
            "size": 222, "weight": 561, "fee": 5_000, "status": status}


BTC_TXS = {BTC_CONFIRMED: _btc_tx(BTC_CONFIRMED, True), BTC_PENDING: _btc_tx(BTC_PENDING, False)}
BTC_TIP = 870_005


class StandIn:
    """One loopback server with the TRON, Esplora and JSON-RPC-proxy routes, in a thread of its own."""

    def __init__(self, upstream_rpc: Optional[str] = None) -> None:
        self.upstream_rpc = upstream_rpc
        self.requests: List[Tuple[str, str]] = []  # (path, body)
        self.delay = 0.0
        self.fail = False
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("stand-in did not start")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/wallet/gettransactionbyid", self._tron_tx)
        app.router.add_post("/wallet/gettransactioninfobyid", self._tron_info)
        app.router.add_get("/tx/{txid}", self._btc_tx)
        app.router.add_get("/tx/{txid}/status", self._btc_status)
        app.router.add_get("/blocks/tip/height", self._btc_tip)
        app.router.add_post("/", self._rpc)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    async def _record(self, request: web.Request) -> str:
        body = await request.text()
        self.requests.append((request.path, body))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise web.HTTPServiceUnavailable(text="down")
        return body

    async def _tron_tx(self, request: web.Request) -> web.Response:
        txid = json.loads(await self._record(request) or "{}").get("value", "")
        return web.json_response(TRON_TXS.get(txid, {}))

    async def _tron_info(self, request: web.Request) -> web.Response:
        txid = json.loads(await self._record(request) or "{}").get("value", "")
        return web.json_response(TRON_INFOS.get(txid, {}))

    async def _btc_tx(self, request: web.Request) -> web.Response:
        await self._record(request)
        tx = BTC_TXS.get(request.match_info["txid"])
        return web.json_response(tx) if tx else web.Response(status=404, text="Transaction not found")

    async def _btc_status(self, request: web.Request) -> web.Response:
        await self._record(request)
        tx = BTC_TXS.get(request.match_info["txid"])
        return web.json_response(tx["status"]) if tx else web.Response(status=404, text="Transaction not found")

    async def _btc_tip(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(text=str(BTC_TIP))

    async def _rpc(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        if not self.upstream_rpc:  # a node that knows no transaction at all
            calls = json.loads(body or "[]")
            nulls = [{"jsonrpc": "2.0", "id": c.get("id"), "result": None} for c in (calls if isinstance(calls, list) else [calls])]
            return web.json_response(nulls if isinstance(calls, list) else nulls[0])
        async with aiohttp.ClientSession() as session:
            async with session.post(self.upstream_rpc, data=body, headers={"Content-Type": "application/json"}) as answer:
                return web.Response(body=await answer.read(), content_type="application/json")

    def sent(self) -> str:
        return "\n".join(body for _path, body in self.requests)

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()
            current = asyncio.current_task()
            for task in [t for t in asyncio.all_tasks() if t is not current]:
                task.cancel()  # handlers still sleeping (``delay``)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
