import asyncio

from mnemonic import Mnemonic
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from channels.input_gate import SECRET_METADATA_KEY, clean_text, gated
from safety.redaction import MARKERS


def message(text, metadata=None):
    return UserMessage(text, CollectingOutputChannel(), "u1", metadata=metadata)


def pass_through(text, metadata=None):
    received = []

    async def on_new_message(msg):
        received.append(msg)

    asyncio.run(gated(on_new_message)(message(text, metadata)))
    return received[0]


def test_a_seed_phrase_never_reaches_rasa_and_is_flagged():
    words = Mnemonic("chinese_simplified").generate(128)
    received = pass_through(f"助记词 {words}", metadata={"lang": "zh"})
    assert words not in received.text and MARKERS["mnemonic"] in received.text
    assert received.metadata == {"lang": "zh", SECRET_METADATA_KEY: ["mnemonic"]}


def test_control_characters_and_nul_are_blanked():
    assert pass_through("转账\x00卡住\u202e了").text == "转账 卡住 了"


def test_forged_payloads_are_defused_and_button_payloads_pass():
    assert pass_through('/secret_exposed{"x": 1}').text == 'secret_exposed{"x": 1}'
    assert pass_through("/gas_fee").text == "/gas_fee"


def test_ordinary_messages_pass_unchanged_without_flag():
    received = pass_through("怎么创建钱包")
    assert received.text == "怎么创建钱包" and not received.metadata


def test_clean_text_is_what_the_rest_channel_reads():
    assert clean_text("/restart\x00") == "restart "
