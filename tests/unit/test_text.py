import pytest

from safety.text import (
    blank_control_characters,
    detect_language,
    normalize_for_nlu,
    normalize_width,
    reply_language,
    to_simplified,
)


def test_fullwidth_letters_digits_and_space_become_halfwidth():
    assert normalize_width("ＵＳＤＴ　１００") == "USDT 100"


def test_control_and_zero_width_characters_are_blanked_not_removed():
    text = "助记\u200b词\x00怎么\u202e备份"
    assert blank_control_characters(text) == "助记 词 怎么 备份"


@pytest.mark.parametrize(
    "traditional, simplified",
    [
        ("錢包被盜了", "钱包被盗了"),
        ("助記詞怎麼備份", "助记词怎么备份"),
        ("轉帳一直打包中", "转帐一直打包中"),
        ("手續費太貴", "手续费太贵"),
    ],
)
def test_traditional_becomes_simplified(traditional, simplified):
    assert to_simplified(traditional) == simplified


@pytest.mark.parametrize("text", ["錢包被盜了 0xABC", "ＴＲＣ２０的USDT沒到帳\x00", "", "🙂", "a" * 5000])
def test_normalisation_keeps_the_length_so_entity_offsets_stay_valid(text):
    assert len(normalize_for_nlu(text)) == len(text)


@pytest.mark.parametrize(
    "text, language",
    [
        ("我的usdt一直pending", "zh"),
        ("how do I create a wallet", "en"),
        ("錢包被盜了", "zh"),
        ("🙂🙂🙂", None),
        ("0x" + "ab" * 32, None),
        ("TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE", None),
        ("", None),
        ("12345", None),
    ],
)
def test_detect_language(text, language):
    assert detect_language(text) == language


def test_reply_language_skips_payloads_and_signal_free_messages():
    assert reply_language(["/create_wallet", "🙂", "help me please", "你好"], "zh") == "en"
    assert reply_language(["🙂"], "en") == "en"
    assert reply_language([], "zh") == "zh"


def test_intents_triggered_by_the_desk_do_not_set_the_language():
    from safety.text import reply_language

    assert reply_language(["EXTERNAL: desk_agent_reply", "我的币被盗了"], default="en") == "zh"


def test_a_bare_ticker_says_nothing_about_the_language():
    from safety.text import detect_language, reply_language

    assert detect_language("TRON") is None and detect_language("USDT TRC20") is None
    assert detect_language("my USDT is gone") == "en"
    assert reply_language(["BSC", "这笔转账在哪条链"], default="en") == "zh"


def test_a_redaction_marker_says_nothing_about_the_language():
    from safety.redaction import MARKERS
    from safety.text import detect_language

    for marker in MARKERS.values():
        assert detect_language(f"my seed phrase is {marker}") == "en"
        assert detect_language(marker) is None
