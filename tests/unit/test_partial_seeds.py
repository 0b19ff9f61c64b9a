"""Part of a seed phrase (six words or more of the word list) is hidden like a whole one."""

import pytest
from tests.seeds import mnemonic

from safety.redaction import MARKERS, redact, redact_continuing

LANGUAGES = ("english", "chinese_simplified", "chinese_traditional")


def words(language="english", strength=128):
    return mnemonic(language, strength).split(" ")


def leaked(part, text):
    """Any two consecutive words of ``part`` still in ``text``."""
    return any(" ".join(part[i:i + 2]) in text or "".join(part[i:i + 2]) in text for i in range(len(part) - 1))


@pytest.mark.parametrize("language", LANGUAGES)
def test_eleven_of_twelve_words_in_one_message_are_hidden(language):
    for _ in range(10):
        phrase = words(language)
        del phrase[5]
        for text in (" ".join(phrase), "，".join(phrase), "\n".join(phrase)):
            result = redact(text)
            assert result.kinds == {"mnemonic"} and not leaked(phrase, result.text), text


def test_eleven_unspaced_chinese_characters_are_hidden():
    """Random draws: about 1 in 100 reads like a sentence to jieba (bench/secrets_bench.py measures it)."""
    for language in LANGUAGES[1:]:
        parts = ["".join(words(language)[:11]) for _ in range(100)]
        hidden = sum(redact(part).text == MARKERS["mnemonic"] for part in parts)
        assert hidden >= 95, [p for p in parts if redact(p).text != MARKERS["mnemonic"]]


@pytest.mark.parametrize("numbering", [
    lambda i, w: f"{i}. {w}", lambda i, w: f"{i}) {w}", lambda i, w: f"({i}) {w}", lambda i, w: f"{i}、{w}",
    lambda i, w: "①②③④⑤⑥⑦⑧⑨⑩⑪⑫"[i - 1] + w, lambda i, w: f"#{i} {w}", lambda i, w: f"{i}.{w}",
])
@pytest.mark.parametrize("language", LANGUAGES)
def test_numbered_partial_phrases_are_hidden(numbering, language):
    phrase = words(language)[:8]
    for joiner in (" ", "\n", ", "):
        text = joiner.join(numbering(i + 1, w) for i, w in enumerate(phrase))
        result = redact(text)
        assert result.kinds == {"mnemonic"} and not leaked(phrase, result.text), text


def test_six_words_in_any_case_and_mixed_separators_are_hidden():
    phrase = words()[:6]
    for text in (" ".join(phrase).upper(), " ".join(w.capitalize() for w in phrase),
                 f"{phrase[0]}, {phrase[1]}\n{phrase[2]}、{phrase[3]}，{phrase[4]} / {phrase[5]}",
                 f"first half: {' '.join(phrase)} rest later"):
        result = redact(text)
        assert result.kinds == {"mnemonic"} and not leaked([w.lower() for w in phrase], result.text.lower()), text


def test_prose_made_of_word_list_words_is_kept():
    for text in ("I want to transfer my token to another wallet",
                 "Hello please help, this address that I'm posting has stolen my funds",
                 "do you know any other stuff more then just waiting",
                 "Can someone please help me, I have this same issue again",
                 "is there any way that you can check it"):
        assert redact(text).text == text


def test_two_halves_join_across_messages():
    phrase = words()
    first, tail = redact_continuing(" ".join(phrase[:4]), None)
    assert first.text == MARKERS["mnemonic"]  # four random word-list words and nothing else: hidden alone
    second, tail = redact_continuing(" ".join(phrase[4:8]), tail)
    assert second.text == MARKERS["mnemonic"] and second.kinds == {"mnemonic"}
    third, _ = redact_continuing(" ".join(phrase[8:]), tail)
    assert third.text == MARKERS["mnemonic"]


@pytest.mark.parametrize("language, sizes", [
    ("english", (4, 4, 4)), ("english", (3, 3, 3, 3)), ("english", (5, 7)),
    ("chinese_simplified", (4, 4, 4)), ("chinese_traditional", (3, 3, 3, 3)),
])
def test_the_first_part_of_a_split_phrase_is_hidden_on_its_own(language, sizes):
    """The first message of a phrase pasted in parts is stored before the rest arrives: three or more
    word-list words that are the whole message are hidden unless they read as everyday English
    (about one random draw of three in twelve does; bench/secrets_bench.py measures it)."""
    hidden = 0
    for _ in range(50):
        phrase, tail, start, kept = words(language), None, 0, []
        for size in sizes:
            result, tail = redact_continuing(" ".join(phrase[start:start + size]), tail)
            kept.append(result.text != MARKERS["mnemonic"])
            start += size
        hidden += not any(kept)
    assert hidden >= (50 if language != "english" else 42)  # before: none, the first part was always kept


def test_the_first_part_of_an_unspaced_chinese_phrase_is_hidden_on_its_own():
    """Four characters written together, the whole message: hidden when none of them reads as part of a
    word or of the grammar (about 85 % of random draws), as the later parts are by joining."""
    for language in LANGUAGES[1:]:
        hidden = 0
        for _ in range(50):
            phrase, tail, kept = words(language), None, []
            for start in (0, 4, 8):
                part = "".join(phrase[start:start + 4])
                result, tail = redact_continuing(part, tail)
                kept.append(result.text == part)
            hidden += not any(kept)
        assert hidden >= 36, language  # before: none


@pytest.mark.parametrize("text", ["钱没了啊", "我要退款", "网络错误", "币全没了", "教我做空", "绿票未到帐", "支持波场吗",
                                  "cancel human agent", "need human help", "real person please", "add custom token",
                                  "good morning team", "sign message error", "thank you very much", "hello any agent",
                                  "好 的", "对"])
def test_short_chat_made_of_word_list_words_is_kept(text):
    assert redact(text).text == text


def test_unspaced_chinese_halves_join_across_messages():
    for language in LANGUAGES[1:]:
        phrase = "".join(words(language))
        _, tail = redact_continuing(phrase[:6], None)
        second, _ = redact_continuing(phrase[6:], tail)
        assert second.text == MARKERS["mnemonic"], phrase


def test_consecutive_ordinary_messages_do_not_join():
    tail = None
    for text in ("my wallet", "I want to transfer my token", "to another wallet", "please help", "thank you",
                 "我的钱包", "转账失败", "怎么办", "好的 谢谢"):
        result, tail = redact_continuing(text, tail)
        assert result.text == text


@pytest.mark.parametrize("sentence", [
    "Is there any short term quick fix on the user side for this? All balances are 0.",
    "It is obvious that this action will require gas, but the button does nothing.",
    "This address deposit core auto other account was never credited.",
])
def test_support_sentences_made_of_word_list_words_are_left_alone(sentence):
    """Real users' sentences whose six or seven words in a row are all on the word list."""
    assert redact(sentence).text == sentence


def test_six_words_of_a_seed_are_still_hidden_among_support_words():
    hidden = 0
    for _ in range(100):
        part = " ".join(words()[:6])
        hidden += MARKERS["mnemonic"] in redact(f"my wallet was drained, the words were {part} thanks").text
    assert hidden >= 93  # bench/secrets_bench.py: about 95-96 in 100 for six random words


def test_a_checksum_valid_phrase_of_everyday_words_is_hidden_when_its_second_half_arrives():
    """Joined halves are decided as the whole phrase in one message would be: checksum first.

    Half of these words are everyday English, so neither half, nor the two joined, reads as
    random; the twelve pass the BIP-39 checksum. The first half cannot be told from prose
    when it arrives; the second must not be stored as well.
    """
    phrase = "where help course devote enrich rifle because truth opinion only such place".split()
    assert redact(" ".join(phrase)).kinds == {"mnemonic"}
    first, tail = redact_continuing(" ".join(phrase[:6]), None)
    second, _ = redact_continuing(" ".join(phrase[6:]), tail)
    assert second.text == MARKERS["mnemonic"] and second.kinds == {"mnemonic"}


@pytest.mark.parametrize("sentence", [
    "I never shared any secret key, so how could they take my coins?",
    "I can enter Private Key but the sign in button stays grey.",
    "My address, private key, public key, everything is written down on paper.",
])
def test_talk_about_keys_is_not_a_seed_fragment(sentence):
    """Four word-list words next to "key" or "phrase" are hidden as a fragment of a seed, but the
    pairs that name the secret ("secret key", "private key, public key") are talk about it, not part of it."""
    assert redact(sentence).text == sentence


def test_four_word_fragments_next_to_their_cue_are_still_hidden():
    """Setting the pairs that name a secret aside costs the short fragments next to a cue nothing
    measurable: about one in twenty reads as everyday English (two of four everyday words) and is
    kept, as before; the rest are hidden."""
    fragments = [words()[:4] for _ in range(200)]
    hidden = 0
    for fragment in fragments:
        result = redact(f"my seed phrase starts with {' '.join(fragment)}")
        hidden += result.kinds == {"mnemonic"} and not leaked(fragment, result.text)
    assert hidden >= 180
