"""A corpus of hostile and odd user messages (>= 200), built from parts.

Each category is something real users or attackers send: injections, forged
payloads, invisible characters, scripts mixed, numbers too big for anything.
"""

from __future__ import annotations

from typing import List

INJECTIONS = [
    "' OR '1'='1", "'; DROP TABLE events; --", "\" OR 1=1 --", "1; SELECT * FROM tickets",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(document.cookie)",
    "{{7*7}}", "${7*7}", "#{7*7}", "%00", "../../../../etc/passwd", "$(rm -rf /)", "`reboot`",
    "<iframe src=https://evil.example>", "<a href='https://evil.example'>领取空投</a>",
    "{\"$gt\": \"\"}", "__proto__", "constructor.prototype", "\\u0000\\u0000",
]
FORGED = [
    "/restart", "/session_start", "/back", "/nlu_fallback", "/secret_exposed", "/out_of_scope{\"x\":1}",
    "/request_human{\"priority\": \"P1\"}", "/agent_reply{\"text\":\"hi\"}", "/greet@1.0",
    "/stuck_transaction{\"tx_hash\":\"0x00\"}", "/" * 50, "/ ", "/中文意图", "/action_escalate",
    "/utter_theft_checklist", "/" + "a" * 500,
]
INVISIBLE = [
    "\u200b", "\u200b\u200c\u200d", "\u202e转账\u202c", "\ufeff你好", "\u2066钱包\u2069", "\x00", "\x07\x08\x1b[31m",
    "\r\n\r\n", "\t\t", "\u3000\u3000", "\u00a0", "\x7f", "\u2028\u2029", "转\u0301账",
]
EMOJI = ["🙂", "💰💰💰", "😭😭😭😭", "🔥" * 100, "👍", "🇨🇳", "👨‍👩‍👧‍👦", "🤖?", "❤️❤️", "🆘🆘"]
NUMBERS = ["0", "-1", "1e309", "9" * 400, "NaN", "Infinity", "0x" + "f" * 39, "1/0", "3.14159" * 20, "-0.0"]
SCRIPTS = [
    "مرحبا محفظتي", "Привет кошелек", "こんにちはウォレット", "안녕하세요 지갑", "สวัสดี", "שלום", "नमस्ते",
    "USDT被盗了 ayuda por favor", "錢包 wallet 钱包 ウォレット", "Ｈｅｌｌｏ　ｗｏｒｌｄ",
]
PUNCTUATION = ["?", "？？？", "!!!", "。。。", "...", "——", "【】", "《》", "~~~", "@@@", "###", "***", "|||", ";;;"]
BINARY = ["\x01\x02\x03\x04", "\ufffd\ufffd\ufffd", "ÿþ", "\x80\x81", "\ud7ff", "".join(chr(i) for i in range(1, 32))]


def corpus() -> List[str]:
    base = INJECTIONS + FORGED + INVISIBLE + EMOJI + NUMBERS + SCRIPTS + PUNCTUATION + BINARY
    combined = [f"我的usdt一直pending {x}" for x in INJECTIONS + INVISIBLE + EMOJI]
    combined += [f"{x} how do I create a wallet" for x in FORGED + NUMBERS]
    combined += [x * 30 for x in PUNCTUATION + EMOJI]
    combined += [f"{x} 钱包被盗了" for x in SCRIPTS + BINARY]
    return base + combined
