"""action_lookup_transaction on its own: the privacy rule, the answers, and what a ticket carries."""

import asyncio
import json

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.tx_lookup import ActionLookupTransaction
from answers.escalation import build_request
from chain.lookup import ChainLookup
from settings import load_settings
from tests.chain import standins as S
from tests.conftest import user_event

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"  # a well-known example key


@pytest.fixture(scope="module")
def standin():
    server = S.StandIn()
    yield server
    server.stop()


def tracker(*turns, slots=None):
    events = []
    for text, intent, *entities in turns:
        event = user_event(text, intent)
        event["parse_data"]["entities"] = entities[0] if entities else []
        events.append(event)
    return Tracker.from_dict({"sender_id": "u-lookup", "slots": slots or {}, "latest_message": events[-1]["parse_data"],
                              "events": events, "paused": False, "followup_action": None, "active_loop": {},
                              "latest_action_name": "action_listen"})


def run(action, tracker_, domain):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker_, domain))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def engine(standin):
    return ChainLookup(load_settings(env={"TRON_API_URL": standin.url, "BTC_ESPLORA_URL": standin.url,
                                          "CHAIN_RPC_ETHEREUM": standin.url}).chains)


def test_a_bare_hash_is_asked_about_and_never_sent_or_kept(standin, domain):
    before = len(standin.requests)
    for text in (KEY, f"帮我看看 {KEY}", f"转账没到 {KEY}"):
        messages, slots = run(ActionLookupTransaction(engine(standin)), tracker((text, "deposit_not_received")), domain)
        assert [m["response"] for m in messages] == ["utter_lookup_is_it_a_hash"]
        assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
        assert slots == {"tx_reference": None, "tx_ref_question": True, "tx_hash": None}
    # "No": still nothing sent, nothing kept.
    messages, slots = run(ActionLookupTransaction(engine(standin)),
                          tracker((KEY, "deposit_not_received"), ("/deny", "deny"), slots={"tx_ref_question": True}), domain)
    assert [m["response"] for m in messages] == ["utter_lookup_not_a_hash"] and slots["tx_hash"] is None
    assert len(standin.requests) == before and KEY[2:] not in standin.sent()


def test_yes_to_the_question_looks_the_earlier_message_up(standin, domain):
    messages, slots = run(ActionLookupTransaction(engine(standin)),
                          tracker((S.BTC_CONFIRMED + " 转账没到", "deposit_not_received"), ("/affirm", "affirm"),
                                  slots={"tx_ref_question": True}), domain)
    assert [m["response"] for m in messages] == ["utter_lookup_confirmed"]
    assert messages[0]["block"] == 870_000 and slots["chain"] == "Bitcoin" and slots["tx_hash"] == S.BTC_CONFIRMED
    assert slots["tx_ref_question"] is None


def test_a_cued_hash_is_looked_up_at_once_and_the_ticket_carries_the_facts(standin, domain):
    first = tracker((f"USDT转账失败了 txid {S.TRON_OUT_OF_ENERGY}", "failed_transaction",
                     [{"entity": "chain", "value": "TRON"}]))
    messages, slots = run(ActionLookupTransaction(engine(standin)), first, domain)
    assert [m["response"] for m in messages] == ["utter_lookup_failed_energy"]
    assert "USDT" in messages[0]["transfer"] and messages[0]["fee"] == "27.2559"
    lookup = json.loads(slots["tx_lookup"])
    assert lookup["state"] == "failed" and lookup["reason"] == "out_of_energy" and lookup["chain"] == "TRON"
    later = tracker((f"USDT转账失败了 txid {S.TRON_OUT_OF_ENERGY}", "failed_transaction"), ("转人工", "request_human"),
                    slots={**slots, "tx_reference": None})
    details = build_request(later).payload()["details"]
    assert details["chain"] == "TRON" and details["tx_hash"] == S.TRON_OUT_OF_ENERGY
    assert details["lookup_state"] == "failed" and details["lookup_reason"] == "out_of_energy"
    assert details["lookup_block"] == "61234570" and details["lookup_amount"].startswith("50 USDT")
    assert details["lookup_from"].startswith("T") and details["lookup_to"].startswith("T")


def test_wrong_network_is_explained(standin, domain):
    text = f"我转的是TRC20，交易哈希 {S.BTC_CONFIRMED}"
    messages, _slots = run(ActionLookupTransaction(engine(standin)),
                           tracker((text, "deposit_not_received", [{"entity": "chain", "value": "TRON"}])), domain)
    assert [m["response"] for m in messages] == ["utter_lookup_wrong_network", "utter_lookup_confirmed"]
    assert messages[0]["named_chain"] == "TRON" and messages[0]["chain"] == "Bitcoin"


def test_not_found_anywhere_offers_a_human(standin, domain):
    messages, slots = run(ActionLookupTransaction(engine(standin)),
                          tracker((f"交易哈希 {'99' * 32}", "stuck_transaction")), domain)
    assert [m["response"] for m in messages] == ["utter_lookup_not_found"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert json.loads(slots["tx_lookup"])["state"] == "not_found"


def test_every_endpoint_down_gives_the_usual_answer(domain):
    down = ChainLookup(load_settings(env={"CHAIN_RPC_ETHEREUM": "http://127.0.0.1:9"}).chains)
    messages, _slots = run(ActionLookupTransaction(down), tracker((f"交易哈希 {'0x' + '99' * 32}", "stuck_transaction")), domain)
    # The curated answer, then its feedback question (answers/feedback.py).
    assert [m["response"] for m in messages] == ["utter_lookup_unavailable", "utter_stuck_transaction", "utter_ask_helpful"]


def test_a_stale_reference_slot_without_a_hash_gives_the_usual_answer(standin, domain):
    messages, slots = run(ActionLookupTransaction(engine(standin)), tracker(("转账一直没到", "deposit_not_received")), domain)
    assert [m["response"] for m in messages] == ["utter_deposit_not_received", "utter_ask_helpful"]
    assert slots["tx_reference"] is None


def test_every_lookup_answer_renders_in_both_languages(domain):
    from answers.language import response_text

    names = [n for n in domain["responses"] if n.startswith("utter_lookup_")]
    fields = dict(chain="Ethereum", block=1, confirmations=2, block_time="-", fee="0.1", symbol="ETH", transfer="x",
                  recipient="0x1", sender="0x2", nonce=3, next_nonce=2, fee_cap="1", base_fee="2", reason="r",
                  named_chain="BSC", chains="Ethereum", amount="1", contract="0x3")
    for name in names:
        for language in ("zh", "en"):
            text = response_text(domain, name, language).format(**fields)
            assert "{" not in text
    status_words = {"utter_lookup_confirmed": ("已确认", "confirmed"), "utter_lookup_pending": ("待确认", "pending"),
                    "utter_lookup_failed": ("失败", "failed"), "utter_lookup_not_found": ("未找到", "not found")}
    for name, (zh, en) in status_words.items():
        assert zh in response_text(domain, name, "zh") and en in response_text(domain, name, "en")
