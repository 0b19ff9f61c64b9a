"""The custom NLU components, run on real Rasa Message objects."""

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.components import THEFT_GUARD_KEY, TextNormalizer, TheftGuard, WalletJiebaTokenizer

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    """Created as Rasa creates it in training: the user dictionary is loaded into jieba."""
    config = {**WalletJiebaTokenizer.get_default_config(), "dictionary_path": str(PROJECT_ROOT / "data/jieba")}
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    resource = Resource("tokenizer")
    return WalletJiebaTokenizer.create(config, storage, resource, ExecutionContext(GraphSchema({}), "test"))


def tokens(tokenizer, text):
    message = Message(data={TEXT: text})
    tokenizer.process([message])
    return [t.text for t in message.get(TOKENS_NAMES[TEXT])]


def test_normalizer_rewrites_runtime_and_training_messages():
    normalizer = TextNormalizer()
    message = Message(data={TEXT: "錢包被盜了ＵＳＤＴ"})
    normalizer.process([message])
    assert message.get(TEXT) == "钱包被盗了USDT"
    data = TrainingData([Message(data={TEXT: "助記詞", INTENT: "backup_mnemonic"})])
    normalizer.process_training_data(data)
    assert data.training_examples[0].get(TEXT) == "助记词"


def test_normalizer_leaves_empty_text_alone():
    message = Message(data={TEXT: ""})
    TextNormalizer().process([message])
    assert message.get(TEXT) == ""


def test_user_dictionary_keeps_wallet_terms_whole(tokenizer):
    words = tokens(tokenizer, "助记词丢了矿工费不够能量带宽TRC20的USDT")
    for term in ("助记词", "矿工费", "能量", "带宽", "TRC20", "USDT"):
        assert term in words


def test_mixed_text_has_no_whitespace_tokens(tokenizer):
    words = tokens(tokenizer, "我的 usdt 一直 pending")
    assert words and all(w.strip() == w and w for w in words)


def test_token_offsets_point_into_the_text(tokenizer):
    text = "我的 usdt 一直pending"
    message = Message(data={TEXT: text})
    tokenizer.process([message])
    for token in message.get(TOKENS_NAMES[TEXT]):
        assert text[token.start:token.end] == token.text


def test_dictionary_content_is_part_of_the_fingerprint(tmp_path):
    (tmp_path / "userdict.txt").write_text("助记词 100 n\n", encoding="utf-8")
    before = WalletJiebaTokenizer.fingerprint_addon({"dictionary_path": str(tmp_path)})
    (tmp_path / "userdict.txt").write_text("助记词 100 n\n能量 100 n\n", encoding="utf-8")
    assert WalletJiebaTokenizer.fingerprint_addon({"dictionary_path": str(tmp_path)}) != before


def classified(text, intent, confidence=0.6):
    ranking = [{"name": intent, "confidence": confidence}, {"name": "suspected_theft", "confidence": 0.2}]
    return Message(data={TEXT: text, INTENT: {"name": intent, "confidence": confidence}, INTENT_RANKING_KEY: ranking})


def test_guard_forces_theft_over_a_wrong_prediction():
    message = classified("我的币被人转走了", "stuck_transaction")
    TheftGuard().process([message])
    assert message.get(INTENT) == {"name": "suspected_theft", "confidence": 1.0}
    assert [r["name"] for r in message.get(INTENT_RANKING_KEY)] == ["suspected_theft", "stuck_transaction"]
    assert message.get(THEFT_GUARD_KEY)["word"] == "被人转走"


def test_guard_makes_a_hesitant_theft_prediction_certain_so_the_fallback_cannot_take_it():
    message = classified("有人用我的钱包转账了，不是我", "suspected_theft", confidence=0.38)
    TheftGuard().process([message])
    assert message.get(INTENT) == {"name": "suspected_theft", "confidence": 1.0}
    assert [r["name"] for r in message.get(INTENT_RANKING_KEY)] == ["suspected_theft"]


def test_guard_leaves_negations_alone():
    message = classified("没被盗，只是想备份", "backup_mnemonic")
    TheftGuard().process([message])
    assert message.get(INTENT)["name"] == "backup_mnemonic"
    assert message.get(THEFT_GUARD_KEY) is None


def test_a_forced_theft_is_not_called_ambiguous_by_the_fallback_classifier():
    """The model sure of another intent (0.97) must not make the guard's theft 'ambiguous' (1.0 vs 0.97)."""
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

    message = classified("We robbed my bitcoin", "greet", confidence=0.97)
    TheftGuard().process([message])
    config = {**FallbackClassifier.get_default_config(), "threshold": 0.4, "ambiguity_threshold": 0.1}
    FallbackClassifier(config).process([message])
    assert message.get(INTENT)["name"] == "suspected_theft"
    assert [r["name"] for r in message.get(INTENT_RANKING_KEY)][:2] == ["suspected_theft", "greet"]


def test_tokens_hash_once_and_again_after_a_change(tokenizer):
    """WalletToken keeps Rasa's fingerprint (the training cache's key) and drops it when the token changes."""
    from rasa.nlu.tokenizers.tokenizer import Token

    message = Message(data={TEXT: "我的USDT被盗了"})
    tokenizer.process([message])
    token = message.get(TOKENS_NAMES[TEXT])[0]
    plain = Token(token.text, token.start, token.end, dict(token.data), token.lemma)
    assert token.fingerprint() == plain.fingerprint()
    token.set("pattern", {"chain": True})
    plain.set("pattern", {"chain": True})
    assert token.fingerprint() == plain.fingerprint()
    assert token.fingerprint() != Token(token.text, token.start, token.end, {}, token.lemma).fingerprint()
