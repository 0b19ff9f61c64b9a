import pytest

from answers.language import response_text, tracker_language


def test_chinese_message_gets_chinese(make_tracker):
    assert tracker_language(make_tracker(("我的usdt一直pending", "stuck_transaction"))) == "zh"


def test_english_message_gets_english(make_tracker):
    assert tracker_language(make_tracker(("how do I create a wallet", "create_wallet"))) == "en"


def test_button_payload_keeps_the_language_of_the_last_real_message(make_tracker):
    tracker = make_tracker(("asdf qwer", "nlu_fallback"), ("/create_wallet", "create_wallet"))
    assert tracker_language(tracker) == "en"


def test_no_signal_falls_back_to_the_default_language(make_tracker):
    assert tracker_language(make_tracker(("🙂🙂", "nlu_fallback"))) == "zh"


def test_response_text_picks_the_variation_by_language(domain):
    assert response_text(domain, "utter_topic_create_wallet", "en") == "Create a wallet"
    assert response_text(domain, "utter_topic_create_wallet", "zh") == "创建钱包"


def test_unknown_response_is_an_error_not_a_blank_button(domain):
    with pytest.raises(KeyError):
        response_text(domain, "utter_does_not_exist", "zh")
