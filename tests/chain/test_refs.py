"""Which messages carry a transaction reference, and which are references by construction."""

import pytest

from chain.refs import chain_from_words, find_refs, first_ref

H = "0x" + "ab" * 32
BARE = "cd" * 32


@pytest.mark.parametrize("text, chain", [
    (f"https://etherscan.io/tx/{H}", "ethereum"),
    (f"bscscan.com/tx/{H} 这笔没到", "bsc"),
    (f"https://polygonscan.com/tx/{H}", "polygon"),
    (f"https://arbiscan.io/tx/{H}", "arbitrum"),
    (f"https://tronscan.org/#/transaction/{BARE}", "tron"),
    (f"https://mempool.space/tx/{BARE}", "bitcoin"),
    (f"https://blockchair.com/bitcoin/transaction/{BARE}", "bitcoin"),
    (f"https://blockchair.com/ethereum/transaction/{H}", "ethereum"),
])
def test_an_explorer_link_is_a_reference_and_names_its_chain(text, chain):
    ref = first_ref(text)
    assert ref.explicit and ref.source == "link" and ref.chain == chain


@pytest.mark.parametrize("text", [
    f"我的ETH转账对方没收到，交易哈希 {H}", f"TxID: {H}", f"txid={BARE}", f"hash {H}", f"交易哈希：{BARE}",
    f"tx {H}", f"Transaction hash: {H}", f"{H} 是交易哈希", f"{H} (txid)", f"哈希值是 {H}",
])
def test_a_hash_with_a_cue_next_to_it_is_a_reference(text):
    ref = first_ref(text)
    assert ref.explicit and ref.source == "cue"


@pytest.mark.parametrize("text", [
    H, f"帮我看看 {H}", f"转账没到 {H}", f"私钥 {H}", f"hash 我等了很久了，一直没到，帮我看看这个 {H}",
    f"{H} 是我的私钥吗", f"context {H}",
])
def test_a_hash_without_a_cue_next_to_it_must_be_confirmed_first(text):
    ref = first_ref(text)
    assert ref is not None and not ref.explicit and ref.source == "bare"


def test_no_reference_in_ordinary_text_or_addresses():
    assert find_refs("转账一直没到账怎么办") == []
    assert find_refs("0x" + "ab" * 20) == []  # an address is not a hash
    assert find_refs("0x" + "ab" * 33) == []  # too long


def test_the_link_and_the_same_hash_are_one_reference():
    refs = find_refs(f"https://etherscan.io/tx/{H} 哈希 {H}")
    assert len(refs) == 1 and refs[0].source == "link"


def test_chain_from_the_users_words():
    assert chain_from_words(["TRON"]) == "tron"
    assert chain_from_words([None, "BSC"]) == "bsc"
    assert chain_from_words(["Solana", "unknown"]) is None
