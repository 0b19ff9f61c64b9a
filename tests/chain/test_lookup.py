"""The lookup against a real EVM node (anvil) and the loopback TRON/Esplora stand-ins."""

import asyncio
import time

import pytest

from chain import facts as F
from chain.http import Breaker
from chain.lookup import ChainLookup
from chain.refs import TxRef
from settings import load_settings
from tests.chain import standins as S
from tests.chain.anvil import USDT, make_fee_too_low, node, scenario  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def standin():
    server = S.StandIn()
    yield server
    server.stop()


def lookup(env, ref, named=None, **kwargs):
    async def run():
        chains = load_settings(env=env).chains
        engine = ChainLookup(chains)
        try:
            return await engine.lookup(ref, named, **kwargs)
        finally:
            await engine.close()
    return asyncio.run(run())


def ref(tx_hash, chain=None):
    return TxRef(tx_hash, chain, True, "cue")


def test_confirmed_native_transfer(node, scenario):
    outcome = lookup({"CHAIN_RPC_ETHEREUM": node.url}, ref(scenario.confirmed))
    facts = outcome.facts
    assert outcome.kind == "found" and facts.state == F.CONFIRMED and facts.chain == "ethereum"
    assert facts.block == scenario.confirmed_block and facts.confirmations >= 1 and facts.block_time
    assert facts.amount == "1" and facts.symbol == "ETH" and facts.recipient.lower() == scenario.recipient.lower()


def test_reverted_and_out_of_gas(node, scenario):
    reverted = lookup({"CHAIN_RPC_ETHEREUM": node.url}, ref(scenario.reverted)).facts
    assert reverted.state == F.FAILED and reverted.reason == F.REVERTED and float(reverted.fee) > 0
    out_of_gas = lookup({"CHAIN_RPC_ETHEREUM": node.url}, ref(scenario.out_of_gas)).facts
    assert out_of_gas.state == F.FAILED and out_of_gas.reason == F.OUT_OF_GAS


def test_token_transfers_are_decoded_known_by_symbol_unknown_raw(node, scenario):
    usdt = lookup({"CHAIN_RPC_ETHEREUM": node.url}, ref(scenario.usdt_transfer)).facts
    assert usdt.state == F.CONFIRMED
    (transfer,) = usdt.transfers
    assert (transfer.symbol, transfer.amount, transfer.contract) == ("USDT", "1.5", USDT.lower())
    assert transfer.recipient == scenario.token_recipient.lower() and transfer.sender == node.accounts[0].lower()
    (raw,) = lookup({"CHAIN_RPC_ETHEREUM": node.url}, ref(scenario.unknown_token_transfer)).facts.transfers
    assert raw.symbol is None and raw.amount == "42" and raw.contract == scenario.unknown_token.lower()


def test_pending_and_nonce_gap(node, scenario):
    pending = lookup({"CHAIN_RPC_ETHEREUM": node.url}, ref(scenario.pending)).facts
    assert pending.state == F.PENDING and pending.reason is None and pending.block is None
    gap = lookup({"CHAIN_RPC_ETHEREUM": node.url}, ref(scenario.nonce_gap)).facts
    assert gap.state == F.PENDING and gap.reason == F.NONCE_GAP and gap.nonce == gap.next_nonce + 1


def test_fee_below_the_base_fee(node, scenario):
    tx_hash = make_fee_too_low(node)
    facts = lookup({"CHAIN_RPC_ETHEREUM": node.url}, ref(tx_hash)).facts
    assert facts.state == F.PENDING and facts.reason == F.FEE_BELOW_BASE_FEE
    assert float(facts.fee_cap_gwei) < float(facts.base_fee_gwei)


def test_not_found_and_wrong_network(node, scenario, standin):
    env = {"CHAIN_RPC_ETHEREUM": node.url, "CHAIN_RPC_BSC": standin.url}  # the stand-in node knows nothing
    missing = lookup(env, ref("0x" + "12" * 32))
    assert missing.kind == "not_found" and missing.tried == ["ethereum", "bsc"]
    wrong = lookup(env, ref(scenario.confirmed), named="bsc")
    assert wrong.kind == "found" and wrong.wrong_network and wrong.facts.chain == "ethereum" and wrong.named_chain == "bsc"


def test_tron_states(standin):
    env = {"TRON_API_URL": standin.url}
    trx = lookup(env, ref(S.TRON_OK_TRX, "tron")).facts
    assert trx.state == F.CONFIRMED and trx.amount == "25" and trx.symbol == "TRX" and trx.sender.startswith("T")
    usdt = lookup(env, ref(S.TRON_OK_USDT, "tron")).facts
    assert usdt.state == F.CONFIRMED and usdt.block == 61_234_567
    assert [(t.symbol, t.amount) for t in usdt.transfers] == [("USDT", "100")]
    assert usdt.transfers[0].contract == "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    energy = lookup(env, ref(S.TRON_OUT_OF_ENERGY, "tron")).facts
    assert energy.state == F.FAILED and energy.reason == F.OUT_OF_ENERGY and energy.fee == "27.2559"
    pending = lookup(env, ref(S.TRON_PENDING, "tron")).facts
    assert pending.state == F.PENDING and [(t.symbol, t.amount) for t in pending.transfers] == [("USDT", "7")]
    assert lookup(env, ref("77" * 32, "tron")).kind == "not_found"


def test_bitcoin_states(standin):
    env = {"BTC_ESPLORA_URL": standin.url}
    confirmed = lookup(env, ref(S.BTC_CONFIRMED, "bitcoin")).facts
    assert confirmed.state == F.CONFIRMED and confirmed.block == 870_000 and confirmed.confirmations == 6
    assert confirmed.amount == "0.001" and confirmed.recipient == S.BTC_TO and confirmed.sender == S.BTC_FROM
    assert lookup(env, ref(S.BTC_PENDING, "bitcoin")).facts.state == F.PENDING
    assert lookup(env, ref("88" * 32, "bitcoin")).kind == "not_found"


def test_a_bare_hash_is_tried_on_tron_and_bitcoin(standin):
    outcome = lookup({"TRON_API_URL": standin.url, "BTC_ESPLORA_URL": standin.url}, ref(S.BTC_CONFIRMED))
    assert outcome.kind == "found" and outcome.facts.chain == "bitcoin" and not outcome.wrong_network


def test_slow_or_dead_endpoints_give_up_within_the_deadline(standin):
    standin.delay = 10
    try:
        started = time.monotonic()
        outcome = lookup({"TRON_API_URL": standin.url, "CHAIN_RPC_ETHEREUM": standin.url}, ref(S.TRON_OK_TRX))
        assert outcome.kind == "unavailable" and time.monotonic() - started < 3.6
    finally:
        standin.delay = 0
    closed = "http://127.0.0.1:9"  # nothing listens on the discard port
    started = time.monotonic()
    assert lookup({"CHAIN_RPC_ETHEREUM": closed}, ref("0x" + "ab" * 32)).kind == "unavailable"
    assert time.monotonic() - started < 3.6
    assert lookup({}, ref("0x" + "ab" * 32)).kind == "unavailable"  # nothing configured: never "not found"


def test_the_breaker_opens_after_repeated_failures_and_lets_a_trial_through():
    breaker = Breaker(failures=2, reset_seconds=0.2)
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert not breaker.allow()
    time.sleep(0.25)
    assert breaker.allow() and not breaker.allow()  # one trial call, the rest wait
    breaker.success()
    assert breaker.allow()


def test_results_are_cached_briefly(standin):
    async def run():
        engine = ChainLookup(load_settings(env={"TRON_API_URL": standin.url}).chains)
        try:
            before = len(standin.requests)
            await engine.lookup(ref(S.TRON_OK_TRX, "tron"))
            await engine.lookup(ref(S.TRON_OK_TRX, "tron"))
            return len(standin.requests) - before
        finally:
            await engine.close()
    assert asyncio.run(run()) == 2  # one lookup = two API calls; the second lookup came from the cache
