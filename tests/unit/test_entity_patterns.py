"""Token-level entities from the project's spaCy pipeline (nlu.spacy_build / nlu.entity_patterns).

Built into a temporary directory and loaded back with spacy.load, as Rasa's SpacyNLP does.
"""

import pytest

spacy = pytest.importorskip("spacy")

from nlu import entity_patterns as ep  # noqa: E402  (registers the factories)
from nlu import spacy_build  # noqa: E402
from safety.text import normalize_for_nlu  # noqa: E402

TX = "0x" + "3f" * 32
TRON = "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"


@pytest.fixture(scope="module")
def nlp(tmp_path_factory):
    out = tmp_path_factory.mktemp("spacy") / "zh_wallet"
    spacy_build.save(spacy_build.build(), out)
    return spacy.load(out)


def found(nlp, text):
    return {(e["entity"], e["text"], e["value"]) for e in ep.entities(nlp, text)}


def test_trc20_usdt_is_a_chain_and_a_token_not_an_amount(nlp):
    ents = found(nlp, "TRC20 USDT转账一直没到账")
    assert ("chain", "TRC20", "TRON") in ents
    assert ("token", "USDT", "USDT") in ents
    assert not [e for e in ents if e[0] == "amount"]
    for text in ("ERC20 USDT手续费", "BEP20 USDT", "TRC20USDT到账慢", "USDT-ERC-20"):
        assert not [e for e in found(nlp, text) if e[0] == "amount"], text


def test_amount_with_glued_unit_and_exchange(nlp):
    ents = found(nlp, "转了100u到币安")
    assert ("amount", "100u", "100u") in ents
    assert ("exchange", "币安", "Binance") in ents


@pytest.mark.parametrize(
    "text, amount",
    [
        ("钱包里少了0.5个ETH", "0.5个ETH"),
        ("朋友转了五百U没收到", "五百U"),
        ("我用TRC20转了1,000 USDT到欧易", "1,000 USDT"),
        ("打了300刀到对方地址", "300刀"),
        ("sent 2.5 ETH via ERC20", "2.5 ETH"),
    ],
)
def test_amounts(nlp, text, amount):
    assert [e[1] for e in found(nlp, text) if e[0] == "amount"] == [amount]


def test_hash_and_addresses(nlp):
    assert ("tx_hash", TX, TX) in found(nlp, f"交易哈希{TX}查不到")
    assert ("address", TRON, TRON) in found(nlp, f"转到了{TRON}，是我的地址")
    link = "https://tronscan.org/#/transaction/" + "ab" * 32
    assert [e[1] for e in found(nlp, link) if e[0] == "tx_hash"] == ["ab" * 32]
    evm = "0x" + "1A" * 20
    assert ("address", evm, evm) in found(nlp, f"my address is {evm}")
    btc = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    assert ("address", btc, btc) in found(nlp, f"比特币地址{btc}收不到币")


def test_wallets_and_exchanges(nlp):
    ents = found(nlp, "从欧易提到TP钱包，再转到Trust Wallet和小狐狸")
    assert {("exchange", "OKX"), ("wallet", "TokenPocket"), ("wallet", "Trust Wallet"), ("wallet", "MetaMask")} <= {
        (e[0], e[2]) for e in ents
    }
    # the longer name wins: a chain, a wallet, not the exchange inside them
    assert {(e[0], e[2]) for e in found(nlp, "币安链上的币")} == {("chain", "BSC")}
    assert {(e[0], e[2]) for e in found(nlp, "OKX Wallet打不开")} == {("wallet", "OKX Wallet")}
    assert {(e[0], e[2]) for e in found(nlp, "TronLink里没有")} == {("wallet", "TronLink")}


def test_no_entities_in_english_words(nlp):
    assert found(nlp, "the button is gray, a ton of gate errors, something obscure in ethernet") == set()


def test_traditional_chinese_after_conversion(nlp):
    text = "從幣安提了５００ＵＳＤＴ到TP錢包，波場鏈"
    converted = normalize_for_nlu(text)
    assert len(converted) == len(text)
    ents = {(e[0], e[2]) for e in found(nlp, converted)}
    assert {("exchange", "Binance"), ("amount", "500USDT"), ("wallet", "TokenPocket"), ("chain", "TRON")} <= ents
    # and the offsets point into the original text, which alone also works
    assert {(e[0], e[2]) for e in found(nlp, text)} >= {("exchange", "Binance"), ("wallet", "TokenPocket"), ("chain", "TRON")}


def test_saved_pipeline_is_deterministic_and_loadable(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    spacy_build.save(spacy_build.build(), a)
    spacy_build.save(spacy_build.build(), b)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    nlp = spacy.load(a)
    assert nlp.path is not None and spacy.info(str(a))["spacy_version"]
    assert nlp.pipe_names == ["wallet_jieba_userdict", "wallet_resegment", "entity_ruler"]


def test_synonyms_come_from_the_lookups():
    vocab = ep.lookup_vocabulary(spacy_build.LOOKUPS)
    assert vocab["chain"]["TRC20"] == "TRON"
    assert vocab["chain"]["币安链"] == "BSC"
    assert vocab["chain"]["Arbitrum"] == "Arbitrum"
    assert vocab["token"]["泰达币"] == "USDT"
