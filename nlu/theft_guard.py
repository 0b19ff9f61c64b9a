"""A deterministic keyword guard for suspected theft.

The intent model can be unsure about a message nobody wrote a training example
like, and a theft victim who is asked a clarifying question loses minutes while
funds drain. So unambiguous theft words, when not negated ("没被盗") or
hypothetical ("怎么防止被盗", "会不会被盗"), force ``suspected_theft``.
The guard runs on text already normalised to Simplified Chinese.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# Words that, said of the user's own wallet, mean assets left without consent.
ZH_THEFT_WORDS = (
    "被盗", "被偷", "盗走", "偷走", "被转走", "被人转走", "被转出", "被划走", "被黑", "黑客",
    "被清空", "被洗劫", "被盗刷", "被骗走", "不是我转的", "不是我操作的", "不是本人操作",
    "莫名其妙转出", "莫名转出", "不明转出", "自动转出", "被人转了", "被偷转", "盗币", "被盗号",
    "钱包空了", "余额空了", "被掏空", "币全没了", "全部不见了", "不是我转", "不是我操作", "我根本没转",
    "我没转过", "有人用我的钱包", "别人用我的钱包", "有人动了我的钱包",
    # Real users' phrasing (data/real/): drained by approvals, phishing, leaked phrases.
    "被划转", "被提走", "被转移", "不翼而飞", "被人盗", "被钓鱼", "被恶意授权", "授权被盗",
    # Clipboard hijacks; transfers nobody signed. ("地址投毒" alone names a topic: 地址投毒是什么.)
    "地址被替换", "地址被篡改", "地址被改了", "不是我本人", "没有签名就被", "被人转账",
    "助记词泄露", "助记词被盗", "私钥泄露", "私钥被盗", "被骗了", "被骗走", "资产被转", "币被转",
    "钱被转", "u被转", "被转光", "被盗转", "被盗取", "盗取", "被扫走", "被人提走", "陌生地址转走",
    # TRON account-permission hijacks: a thief adds his key as owner ("被多签") and the victim can no
    # longer move the funds. ("多签" alone is a feature: 怎么设置多签.)
    "被多签", "被恶意多签", "多签被改", "权限被改", "权限被修改", "权限被人改", "owner权限被",
    "被人操控", "被人控制", "钱包被控制", "账户被控制",
)
EN_THEFT_WORDS = (
    "stolen", "stole", "hacked", "drained", "unauthorized transfer", "unauthorised transfer",
    "unauthorized transaction", "unauthorised transaction", "emptied my wallet", "wallet was emptied",
    "didn't make this transfer", "did not make this transfer", "someone took my", "someone transferred",
    # Real users' phrasing (data/real/): consent, drainers, "cleaned out", robbed.
    "without my consent", "without my permission", "without my authorization", "without my authorisation",
    "i never made", "i did not make", "i didn't make", "i never authorized", "i never authorised",
    "i didn't authorize", "i did not authorize", "i never sent", "i didn't send them", "cleaned me out",
    # "drainer" alone names a scam site ("this is a wallet drainer"): a report says who took the funds.
    "cleaned out my", "to a drainer", "by a drainer", "drainer took", "drainer stole", "drainer contract",
    "robbed", "account emptied", "wallet emptied",
    "emptied my", "wiped out my", "wallet was compromised", "wallet got compromised", "wallet is compromised",
    "been compromised", "got scammed", "been scammed", "was scammed", "i got hacked", "swept", "sweeper bot",
    "stealing", "theft", "thief", "thieves", "scammer took", "hacker", "hackers", "someone withdrew",
    "someone sent my", "someone moved my", "moved out of my", "transferred out without", "phished",
    "seed phrase was leaked", "seed phrase leaked", "private key leaked", "private key was leaked",
    "fraud transaction", "fraud transactions", "fraudulent transaction", "fraudulent transactions",
    "fraudulent transfer", "ripped off", "taken from my wallet", "taken out of my wallet",
    "taken from my account", "i did not transfer", "i didn't transfer", "i never transferred",
    "not made by me", "never made this", "address was replaced", "address had been replaced",
    "address got replaced", "clipboard hijack",
    # Round 6: a compromised wallet named as such; a transaction the user never signed.
    "wallet compromised", "account compromised", "account was compromised", "account is compromised",
    "account got compromised", "not signed by me", "wasn't signed by me", "was not signed by me",
    "i never signed", "transaction never made", "transfer never made",
    # Round 14: a transfer disowned or an intruder named without "stolen" ("a transfer which I did not do").
    "which i did not do", "that i did not do", "which i didn't do", "that i didn't do", "it was not me",
    "it wasn't me", "without my knowledge", "without me knowing", "somebody took", "someone got access",
    "someone accessed my", "gained access to my wallet",
)
# Cues that turn a theft word into a denial or a hypothetical question.
ZH_NEGATION_CUES = (
    "没", "没有", "不是", "并未", "未", "并没", "防止", "防范", "避免", "以免", "预防", "怎么防",
    "如何防", "担心", "害怕", "怕", "万一", "会不会", "会被", "能被", "差点", "不会", "不想", "防",
    # warnings to others are scam reports, not a report of the user's own loss ("小心资产被转移")
    "小心", "当心", "谨防", "提防", "警惕",
    # imperatives to others ("别继续被骗了", "不要授权", "勿点")
    "别", "不要", "勿",
)
# "有人被骗了好几万" / "很多人被盗": a passive theft word whose victim is someone else is a warning, not
# the user's report; an active one keeps its meaning ("有人盗走了我的币").
ZH_OTHER_VICTIMS = ("有人", "别人", "大家", "很多人", "好多人", "不少人", "其他人", "他人", "网友", "群友")
EN_NEGATION_CUES = (
    "not", "n't", "never", "avoid", "prevent", "protect", "afraid", "worried", "in case", "without",
    "how to not", "can it be", "could it be",
    "beware", "watch out",  # warnings to others: scam reports ("careful" is not: "I was careful but got drained")
    "no",  # "no funds were stolen from me"
    # what would happen, and to whom: "you will be drained", "victims are told their account was compromised"
    "will be", "will get", "would be", "could be", "might be", "may be",
    "victims", "their", "people", "others", "users", "everyone",
)
# A stolen phone or laptop is a device to restore from the recovery phrase, not funds taken
# ("my cell phone was stolen"); a hacked laptop still is a theft report.
EN_DEVICES = ("phone", "cellphone", "laptop", "computer", "device")
EN_DEVICE_THEFT_WORDS = ("stolen", "stole", "robbed")
ZH_WINDOW = 6
EN_WINDOW_WORDS = 4

_EN_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class TheftSignal:
    """Why the guard fired: the word it matched and where."""

    word: str
    start: int


def _zh_negated(text: str, start: int) -> bool:
    before = text[max(0, start - ZH_WINDOW - 1):start].replace("不小心", "")[-ZH_WINDOW:]  # carelessly: still a loss
    if any(cue in before for cue in ZH_NEGATION_CUES):
        return True
    if text.startswith("被", start) and before.endswith(ZH_OTHER_VICTIMS):
        return True  # someone else is the victim
    return before.endswith("会")  # what code or a site would do: "代码会盗取私钥"


def _en_negated(text: str, start: int, word: str = "") -> bool:
    words = _EN_WORD.findall(text[:start])
    before = " ".join(words[-EN_WINDOW_WORDS:])
    cues = EN_NEGATION_CUES + (EN_DEVICES if word in EN_DEVICE_THEFT_WORDS else ())
    return any(re.search(rf"(^|\s|\b){re.escape(cue)}(\b|$)", before) for cue in cues)


def find_theft_signal(text: str) -> Optional[TheftSignal]:
    """Return the first non-negated theft word in ``text``, or None."""
    for word in ZH_THEFT_WORDS:
        for match in re.finditer(re.escape(word), text):
            if not _zh_negated(text, match.start()):
                return TheftSignal(word, match.start())
    lowered = text.lower()
    for word in EN_THEFT_WORDS:
        for match in re.finditer(rf"\b{re.escape(word)}\b", lowered):
            if not _en_negated(lowered, match.start(), word):
                return TheftSignal(word, match.start())
    return None
