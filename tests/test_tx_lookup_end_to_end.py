"""The transaction lookup through the real servers: REST user → Rasa → action server → anvil / stand-ins → desk.

CHAIN_RPC_ETHEREUM points at a counting loopback proxy in front of a real anvil node,
TRON_API_URL and BTC_ESPLORA_URL at the loopback stand-in (tests/chain/standins.py).
"""

import hashlib
import time

import pytest
import requests

from tests.chain import standins as S
from tests.chain.anvil import node, scenario  # noqa: F401 (fixtures)
from tests.servers import start_stack

pytestmark = pytest.mark.timeout(900)

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"  # a well-known example key


@pytest.fixture(scope="module")
def rpc(node):
    """Counts and records every request the bot sends to the EVM endpoint, and forwards it to anvil."""
    proxy = S.StandIn(upstream_rpc=node.url)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def lookup_stack(tmp_path_factory, rpc, scenario):
    running = start_stack(tmp_path_factory.mktemp("lookup-stack"), extra_env={
        "CHAIN_RPC_ETHEREUM": rpc.url, "TRON_API_URL": rpc.url, "BTC_ESPLORA_URL": rpc.url})
    yield running
    running.stop()


def say(stack, sender, text):
    started = time.monotonic()
    replies = stack.send(text, sender=sender)
    return "\n".join(r.get("text") or "" for r in replies), replies, time.monotonic() - started


def test_confirmed_transfer_with_its_block(lookup_stack, scenario):
    text, _replies, _s = say(lookup_stack, "lk-confirmed", f"我的ETH转账对方没收到，交易哈希 {scenario.confirmed}")
    assert "已确认" in text and f"区块 {scenario.confirmed_block} " in text and scenario.recipient in text.lower()


def test_etherscan_link_of_a_reverted_transaction(lookup_stack, scenario):
    text, _replies, _s = say(lookup_stack, "lk-reverted", f"https://etherscan.io/tx/{scenario.reverted}")
    # A bare link has no Chinese in it: the reply is in English (answers.language).
    assert "failed" in text and "reverted" in text and "not refunded" in text
    text, _replies, _s = say(lookup_stack, "lk-reverted-zh", f"转账失败了 https://etherscan.io/tx/{scenario.reverted}")
    assert "失败" in text and "revert" in text and "不会退还" in text


def test_txid_of_a_pending_transaction(lookup_stack, scenario):
    text, _replies, _s = say(lookup_stack, "lk-pending", f"TxID: {scenario.pending}")
    assert "pending" in text and "Speed up" in text  # no Chinese in the message: an English reply
    text, _replies, _s = say(lookup_stack, "lk-pending-zh", f"转账一直在等待 TxID: {scenario.pending}")
    assert "待确认" in text and "加速" in text


def test_a_nonce_gap_is_explained(lookup_stack, scenario):
    text, _replies, _s = say(lookup_stack, "lk-gap", f"为什么一直不到账？tx hash {scenario.nonce_gap}")
    assert "待确认" in text and "nonce" in text and "更早的交易" in text


def test_a_random_hash_is_not_found_and_a_human_is_offered(lookup_stack):
    random_hash = "0x" + hashlib.sha256(b"no such transaction").hexdigest()
    text, replies, _s = say(lookup_stack, "lk-random", f"交易哈希 {random_hash} 一直没到")
    assert "未找到" in text
    assert any(b.get("payload") == "/request_human" for r in replies for b in r.get("buttons") or [])


def test_english_and_a_usdt_transfer(lookup_stack, scenario):
    text, _replies, _s = say(lookup_stack, "lk-en", f"my USDT deposit has not arrived, tx hash {scenario.usdt_transfer}")
    assert "confirmed" in text and "1.5 USDT" in text and scenario.token_recipient in text.lower()


def test_tron_out_of_energy_and_bitcoin_through_the_stack(lookup_stack):
    text, _replies, _s = say(lookup_stack, "lk-tron", f"USDT转账失败 https://tronscan.org/#/transaction/{S.TRON_OUT_OF_ENERGY}")
    assert "失败" in text and "能量" in text and "TRX" in text
    text, _replies, _s = say(lookup_stack, "lk-btc", f"比特币转账没到 https://mempool.space/tx/{S.BTC_CONFIRMED}")
    assert "已确认" in text and "870000" in text


def test_a_private_key_never_reaches_the_endpoint(lookup_stack, rpc):
    before = len(rpc.requests)
    text, replies, _s = say(lookup_stack, "lk-key", KEY)
    assert "这是交易哈希吗" in text
    assert [b["payload"] for r in replies for b in r.get("buttons") or []] == ["/affirm", "/deny"]
    text, _replies, _s = say(lookup_stack, "lk-key", "/deny")
    assert "不会查询" in text
    text, _replies, _s = say(lookup_stack, "lk-key2", f"转账没到账 {KEY}")  # a context word, but no hash cue next to it
    assert "这是交易哈希吗" in text
    say(lookup_stack, "lk-key3", f"这是我的私钥 {KEY}")  # hidden by the input gate: the P1 path, untouched
    assert len(rpc.requests) == before, rpc.requests[before:]
    assert KEY[2:] not in rpc.sent()
    slots = requests.get(f"{lookup_stack.rasa_url}/conversations/lk-key/tracker",
                         params={"token": lookup_stack.api_token}, timeout=30).json()["slots"]
    assert slots.get("tx_hash") is None and slots.get("tx_lookup") is None


def test_yes_to_the_question_looks_it_up(lookup_stack, scenario, rpc):
    before = len(rpc.requests)
    text, _replies, _s = say(lookup_stack, "lk-yes", scenario.unknown_token_transfer)  # not looked up before: no cache
    assert "这是交易哈希吗" in text and len(rpc.requests) == before
    text, _replies, _s = say(lookup_stack, "lk-yes", "/affirm")
    assert "已确认" in text and len(rpc.requests) > before


def test_the_p2_ticket_carries_the_lookup_and_nothing_is_asked_again(lookup_stack, scenario):
    text, _replies, _s = say(lookup_stack, "lk-ticket", f"转账对方一直没收到，交易哈希 {scenario.usdt_transfer}")
    assert "已确认" in text
    text, _replies, _s = say(lookup_stack, "lk-ticket", "转人工")
    assert "哪条链" not in text and "交易哈希" not in text.split("\n")[0]  # chain and hash are known: not asked
    ticket = lookup_stack.open_ticket("lk-ticket")
    assert ticket is not None and ticket["priority"] == "P2"
    full = lookup_stack.desk("GET", f"/api/tickets/{ticket['id']}").json()
    details = full.get("ticket", full)["details"]
    assert details["chain"] == "Ethereum" and details["tx_hash"] == scenario.usdt_transfer
    slots = requests.get(f"{lookup_stack.rasa_url}/conversations/lk-ticket/tracker",
                         params={"token": lookup_stack.api_token}, timeout=30).json()["slots"]
    assert '"state": "confirmed"' in slots["tx_lookup"] and "1.5 USDT" in slots["tx_lookup"]
    assert full["lookup"]["state"] == "confirmed" and full["lookup"]["chain"] == "Ethereum"  # what the desk page shows


def test_theft_with_a_hash_still_escalates_p1_at_once(lookup_stack, scenario):
    text, _replies, _s = say(lookup_stack, "lk-theft", f"我的币被盗了！被转走了，交易哈希 {scenario.confirmed}")
    assert "已确认" not in text
    ticket = lookup_stack.open_ticket("lk-theft")
    assert ticket is not None and ticket["priority"] == "P1"


def test_endpoints_slow_or_down_still_answer_within_4_s(lookup_stack, rpc):
    rpc.delay = 10
    try:
        text, _replies, seconds = say(lookup_stack, "lk-slow", f"交易哈希 0x{'6b' * 32} 转账卡住了一直pending")
    finally:
        rpc.delay = 0
    assert seconds < 4.0 and "暂时无法查询" in text and len(text) > 60  # the usual FAQ answer follows


def test_the_widget_user_hears_the_same_states_over_socketio(lookup_stack, scenario):
    from tests.socketio_user import SocketIOUser

    user = SocketIOUser(lookup_stack.rasa_url)
    try:
        user.say(f"我的ETH转账对方没收到，交易哈希 {scenario.confirmed}")
        assert f"区块 {scenario.confirmed_block} " in user.wait_for_text("已确认")["text"]
        mark = len(user.received)
        user.say(f"转账失败了 https://etherscan.io/tx/{scenario.reverted}")
        assert "revert" in user.wait_for_text("失败", since=mark)["text"]
        mark = len(user.received)
        user.say(f"转账一直在等待 TxID: {scenario.pending}")
        user.wait_for_text("待确认", since=mark)
    finally:
        user.close()
