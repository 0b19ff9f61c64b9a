"""P2 escalations first ask for the chain and the transaction hash (SPEC §2), skippably.

An agent with the chain and the hash can check a stuck or missing transfer at
once instead of asking for them an hour later. The user can answer "跳过 / skip"
to either question. Nothing secret is ever asked for; should a user paste a
key or mnemonic anyway, the channel has already hidden it, the bot warns, and
the ticket goes out as P1 without further questions.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from answers.language import DomainDict

FORM = "transfer_details_form"
SKIPPED = "unknown"
SKIP_WORDS = re.compile(r"跳过|不知道|不清楚|没有|忘了|算了|skip|don'?t know|not sure|no idea|none|n/?a", re.I)
TX_HASH = re.compile(r"(?<![0-9A-Za-z])(?:0x)?[0-9a-fA-F]{64}(?![0-9A-Za-z])|(?<![1-9A-HJ-NP-Za-km-z])[1-9A-HJ-NP-Za-km-z]{80,90}(?![1-9A-HJ-NP-Za-km-z])")
MAX_CHAIN_CHARS = 40


def _entity(tracker: Tracker, name: str) -> Optional[str]:
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def chain_answer(text: str, entity: Optional[str]) -> Optional[str]:
    """The chain named in an answer: the recognised entity, "unknown" when skipped, else the short answer."""
    if entity:
        return entity
    if SKIP_WORDS.search(text):
        return SKIPPED
    cleaned = text.strip()
    return cleaned[:MAX_CHAIN_CHARS] if cleaned else None


def tx_hash_answer(text: str) -> Optional[str]:
    """The hash in an answer, "unknown" when skipped, None when it is neither."""
    match = TX_HASH.search(text)
    if match:
        return match.group(0)
    if SKIP_WORDS.search(text):
        return SKIPPED
    return None


class ValidateTransferDetailsForm(Action):
    def name(self) -> Text:
        return "validate_transfer_details_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        message = tracker.latest_message or {}
        text = message.get("text") or ""
        # Theft, a pasted secret and "cancel" are not answers: they are left out of the
        # slot mappings, so the form steps aside and data/rules/handoff.yml takes over.
        requested = tracker.get_slot("requested_slot")
        if requested == "chain" and tracker.get_slot("chain") is not None:
            return [SlotSet("chain", chain_answer(text, _entity(tracker, "chain")))]
        if requested == "tx_hash" and tracker.get_slot("tx_hash") is not None:
            answer = _entity(tracker, "tx_hash") or tx_hash_answer(text)
            if answer is None:
                dispatcher.utter_message(response="utter_tx_hash_not_recognised")
            return [SlotSet("tx_hash", answer)]
        return []
