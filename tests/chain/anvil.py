"""A real local EVM node (anvil) and the transactions the lookup tests need.

anvil ships in the npm package @foundry-rs/anvil-linux-amd64 (widget/package-lock.json,
installed by scripts/widget.sh). Started on a free loopback port; stopped by ``stop``.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import pytest
import requests

from tests.conftest import PROJECT_ROOT
from tests.servers import free_ports

ANVIL = PROJECT_ROOT / "widget/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"  # curated in data/lookups/token_contracts.yml (6 decimals)
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
# A minimal token: every call emits Transfer(msg.sender, to, value) for transfer(to, value)
# calldata and returns true. No balances: the lookup reads the log, which is the standard event.
TOKEN_RUNTIME = ("602435600052600435337f" + TRANSFER_TOPIC + "60206000a3600160005260206000f3")
TOKEN_INIT = f"603a80600b6000396000f3{TOKEN_RUNTIME}"
REVERTING_INIT = "0x60006000fd"   # REVERT(0, 0): a contract creation that fails on chain
LOOPING_INIT = "0x5b600056"       # JUMPDEST PUSH1 0 JUMP: runs until the gas is gone (out of gas)
assert len(TOKEN_RUNTIME) // 2 == 0x3a


def transfer_call(to: str, value: int) -> str:
    return "0xa9059cbb" + to.lower().removeprefix("0x").rjust(64, "0") + hex(value)[2:].rjust(64, "0")


@dataclass
class Anvil:
    url: str
    process: subprocess.Popen
    accounts: List[str] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)

    def rpc(self, method: str, *params: Any) -> Any:
        answer = self.session.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                                   timeout=30).json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def send(self, **tx: Any) -> str:
        tx.setdefault("from", self.accounts[0])
        return self.rpc("eth_sendTransaction", {k: (hex(v) if isinstance(v, int) else v) for k, v in tx.items()})

    def receipt(self, tx_hash: str, timeout: float = 10.0) -> Optional[Dict[str, Any]]:
        """The receipt, waiting for automine (anvil mines right after answering eth_sendTransaction)."""
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.rpc("eth_getTransactionReceipt", tx_hash)
            if receipt is not None or time.monotonic() > deadline:
                return receipt
            time.sleep(0.02)

    def block_of(self, tx_hash: str) -> int:
        return int(self.receipt(tx_hash)["blockNumber"], 16)

    def deploy_token(self) -> str:
        tx_hash = self.send(data="0x" + TOKEN_INIT, gas=200_000)
        return self.receipt(tx_hash)["contractAddress"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_anvil() -> Anvil:
    if not ANVIL.exists():
        raise FileNotFoundError(f"{ANVIL}: run scripts/widget.sh (make setup) to install it")
    (port,) = free_ports(1)
    process = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = Anvil(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 30
    while True:
        try:
            node.accounts = node.rpc("eth_accounts")
            return node
        except (requests.RequestException, RuntimeError):
            if process.poll() is not None or time.monotonic() > deadline:
                node.stop()
                raise RuntimeError("anvil did not start")
            time.sleep(0.1)


@dataclass
class Scenario:
    """One of each kind of transaction the bot must tell apart, made on a real node."""

    confirmed: str
    confirmed_block: int
    reverted: str
    out_of_gas: str
    usdt_transfer: str
    unknown_token_transfer: str
    unknown_token: str
    nonce_gap: str
    pending: str
    recipient: str
    token_recipient: str


def make_scenario(node: Anvil) -> Scenario:
    a = node.accounts
    confirmed = node.send(to=a[1], value=10**18)  # 1 ETH
    reverted = node.send(data=REVERTING_INIT, gas=100_000)
    out_of_gas = node.send(data=LOOPING_INIT, gas=60_000)
    token = node.deploy_token()
    node.rpc("anvil_setCode", USDT, "0x" + TOKEN_RUNTIME)
    token_recipient = a[5]
    usdt_transfer = node.send(to=USDT, data=transfer_call(token_recipient, 1_500_000), gas=100_000)
    unknown = node.send(to=token, data=transfer_call(token_recipient, 42), gas=100_000)
    for mined in (confirmed, reverted, out_of_gas, usdt_transfer, unknown):
        node.receipt(mined)
    # A nonce gap: account 3 skips its next nonce, so this one waits (automine stays on).
    next_nonce = int(node.rpc("eth_getTransactionCount", a[3], "latest"), 16)
    nonce_gap = node.send(**{"from": a[3], "to": a[4], "value": 10**15, "nonce": next_nonce + 1})
    # Pending: mining paused, a plain transfer waits in the pool.
    node.rpc("evm_setAutomine", False)
    pending = node.send(**{"from": a[2], "to": a[4], "value": 2 * 10**17})
    return Scenario(confirmed, node.block_of(confirmed), reverted, out_of_gas, usdt_transfer, unknown, token,
                    nonce_gap, pending, a[1], token_recipient)


def make_fee_too_low(node: Anvil) -> str:
    """A transaction whose fee cap the base fee has overtaken: it waits in the pool (automine off).

    anvil refuses a fee cap below the current base fee, so the cap is set just above it and
    the base fee of the next block is then raised far past it (eth_feeHistory shows it). No
    block is mined: anvil would drop the transaction from its pool. Afterwards every other
    pending transaction is below the base fee too: check them first.
    """
    base_fee = int(node.rpc("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    tx_hash = node.send(**{"from": node.accounts[6], "to": node.accounts[1], "value": 1,
                           "maxFeePerGas": base_fee * 2, "maxPriorityFeePerGas": 1})
    node.rpc("anvil_setNextBlockBaseFeePerGas", hex(base_fee * 50))
    return tx_hash


@pytest.fixture(scope="module")
def node():
    """A fresh anvil for the test module that imports this fixture (and ``scenario``)."""
    anvil = start_anvil()
    yield anvil
    anvil.stop()


@pytest.fixture(scope="module")
def scenario(node):
    return make_scenario(node)
