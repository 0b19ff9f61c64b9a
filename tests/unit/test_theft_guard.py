import pytest

from nlu.theft_guard import find_theft_signal
from safety.text import normalize_for_nlu


@pytest.mark.parametrize(
    "text",
    [
        "钱包被盗了",
        "我的usdt被人转走了，不是我转的",
        "昨晚资产莫名其妙转出到一个陌生地址",
        "my wallet got hacked and everything is gone",
        "someone drained my wallet after I clicked a link",
        "授权之后币被清空了",
        "帮帮我 币全被偷走了",
        "一觉醒来钱包空了",
        "有一笔转出不是我操作的",
        "有人用我的钱包转了一笔出去",
    ],
)
def test_theft_is_detected(text):
    assert find_theft_signal(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "没被盗，只是想备份一下助记词",
        "怎么防止钱包被盗",
        "会不会被盗啊",
        "担心被黑客攻击，怎么设置更安全",
        "my wallet was not hacked, I just forgot the password",
        "how do I avoid getting drained by approvals",
        "转账一直打包中",
        "",
    ],
)
def test_negated_hypothetical_and_unrelated_messages_do_not_fire(text):
    assert find_theft_signal(text) is None


def test_signal_says_what_matched_and_where():
    signal = find_theft_signal("昨天钱包被盗了")
    assert (signal.word, signal.start) == ("被盗", 4)


@pytest.mark.parametrize("text", [
    "how to recover them, how to stop this fraud transaction",
    "I got ripped off. Can you help me?",
    "I received almost 3 bitcoin and it was taken from my wallet. I did not transfer it.",
    "When copying, the address was replaced by another one and my USDT went there",
    "复制的收款地址被替换了，U 转到了陌生地址",
    "我没有签名就被转账了，资金损失了",
    # round 6
    "Time sensitive. Wallet compromised and losing tokens with every claim",
    "The transaction was not signed by me, where did it come from?",
    "Transfer never made / never received any email about this transaction",
    "I never signed anything and my ETH went to an unknown address",
])
def test_real_users_phrasings_are_detected(text):
    assert find_theft_signal(normalize_for_nlu(text)) is not None


@pytest.mark.parametrize("text", [
    "my wallet is not compromised, I just cannot see the token",
    "how do I know if my account is safe",
    "the transaction was signed by me but it failed",
])
def test_round_six_lookalikes_do_not_fire(text):
    assert find_theft_signal(normalize_for_nlu(text)) is None


@pytest.mark.parametrize("text", ["地址投毒是什么", "what is address poisoning", "how to avoid fraud transactions"])
def test_topic_questions_about_theft_do_not_fire(text):
    assert find_theft_signal(normalize_for_nlu(text)) is None


@pytest.mark.parametrize("text", [
    "小心资产被转移！！！", "大家当心币被转走", "谨防私钥泄露", "Beware, funds drained by this fake site",
    "watch out, funds stolen by this fake airdrop",
])
def test_warnings_to_others_do_not_fire(text):
    """A warning is a scam report; the user has not said they lost anything."""
    assert find_theft_signal(normalize_for_nlu(text)) is None


@pytest.mark.parametrize("text", ["我不小心点了链接，币被转走了", "不小心被转走了", "I was careless and my wallet got drained",
                                  "I was careful but got drained anyway"])
def test_a_loss_after_carelessness_still_fires(text):
    assert find_theft_signal(normalize_for_nlu(text)) is not None


@pytest.mark.parametrize("text", [
    "这个是骗人的，大家可别上当，已经有人被骗了好几万了",  # someone else was the victim
    "很多人被盗了，这个网站是假的",
    "别继续被骗了，这个项目跑路了",  # an imperative to others
    "这个插件的代码会盗取私钥",  # what code would do
    "No funds were stolen from me, I am reporting a phishing site",
    "if you connect to this page you will be drained of funds",
    "Victims are told their account was compromised and asked to move funds",
    "This is a crypto wallet drainer, do not install it",
    "My cell phone was stolen, how do I restore my wallet on the new one?",
])
def test_warnings_hypotheticals_others_and_stolen_devices_do_not_fire(text):
    """Round 11's false alarms: the user reports a scam or a lost device, not their own funds taken."""
    assert find_theft_signal(normalize_for_nlu(text)) is None


@pytest.mark.parametrize("text", [
    "有人盗走了我的币",  # an active theft word: someone is the thief
    "I signed an approval to a drainer and my USDT is gone",
    "my laptop got hacked and the funds moved to an unknown address",
    "别人用我的钱包转走了我的U",
])
def test_the_narrower_cues_keep_real_reports(text):
    assert find_theft_signal(normalize_for_nlu(text)) is not None


@pytest.mark.parametrize("text", [
    "我的波场钱包被多签了，币转不出去",
    "TP钱包账户权限被修改了，owner不是我的地址",
    "請問我的錢包被人操控了，有沒有辦法把owner權限改回來",
])
def test_tron_permission_hijacks_fire(text):
    """A thief made himself the account's owner: the funds are his to move, the victim's are frozen."""
    assert find_theft_signal(normalize_for_nlu(text)) is not None


@pytest.mark.parametrize("text", [
    "怎么设置多签钱包", "怎么防止被多签", "多签账户转账需要几个签名", "担心钱包被人控制，怎么检查权限",
])
def test_multisig_and_permission_questions_do_not_fire(text):
    assert find_theft_signal(normalize_for_nlu(text)) is None


@pytest.mark.parametrize("text", [
    "There is a transfer in my history which I did not do, all my ETH went to an unknown address",
    "Someone got access to my wallet and moved everything out",
    "My USDT was sent out without my knowledge last night",
])
def test_disowned_transfers_and_intruders_fire(text):
    assert find_theft_signal(normalize_for_nlu(text)) is not None


@pytest.mark.parametrize("text", [
    "I'm worried somebody took a photo of my recovery phrase, what should I do to be safe?",
    "I'm afraid someone got access to my wallet, how can I check?",
])
def test_worries_about_an_intruder_do_not_fire(text):
    assert find_theft_signal(normalize_for_nlu(text)) is None
