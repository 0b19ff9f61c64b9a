"""``action_lookup_transaction``: look a pasted transaction up on chain and say what happened to it.

Runs instead of the FAQ answer when a transaction-intent message (or an unclear one)
carries a transaction reference (data/rules/lookup.yml). The state words are
已确认 / 待确认 / 失败 / 未找到 (confirmed / pending / failed / not found).

PRIVACY (chain/refs.py): 64 hex digits may be a private key. Only a reference by
construction (explorer link, or a hash cue right next to it) is looked up at once;
any other candidate is first put to the user ("这是交易哈希吗？"), and nothing is sent
or kept (the ``tx_hash`` slot is cleared) unless they say yes.

With every endpoint down or slow the user gets the FAQ answer of the intent, as before
the lookup existed, within the 4 s budget (chain/lookup.py's deadline).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from answers.language import DomainDict, local_time, response_text, tracker_language
from answers.topics import FAQ_INTENTS
from chain import facts as F
from chain.lookup import DEADLINE_SECONDS, ChainLookup, Outcome, get_lookup
from chain.refs import TxRef, chain_from_words, first_ref

logger = logging.getLogger(__name__)

REFERENCE_SLOT = "tx_reference"   # filled from the tx_hash entity; routes the turn here (featurized)
QUESTION_SLOT = "tx_ref_question"  # "is this a transaction hash?" is open
LOOKUP_SLOT = "tx_lookup"          # the looked-up facts, JSON: attached to a P2 ticket
YES, NO = "/affirm", "/deny"

FAILED_RESPONSES = {F.OUT_OF_GAS: "utter_lookup_failed_out_of_gas", F.REVERTED: "utter_lookup_failed_reverted",
                    F.OUT_OF_ENERGY: "utter_lookup_failed_energy", F.OUT_OF_BANDWIDTH: "utter_lookup_failed_bandwidth"}
PENDING_RESPONSES = {F.NONCE_GAP: "utter_lookup_pending_nonce", F.FEE_BELOW_BASE_FEE: "utter_lookup_pending_fee"}


def _intent(event_or_message: Dict[str, Any]) -> Optional[str]:
    return ((event_or_message or {}).get("intent") or {}).get("name")


def _previous_user_message(tracker: Tracker) -> Dict[str, Any]:
    """The user message before the latest one (the one the yes/no answers)."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    return users[-2] if len(users) >= 2 else {}


def _named_chain(tracker: Tracker, message: Dict[str, Any]) -> Optional[str]:
    entities = [e.get("value") for e in message.get("entities") or [] if e.get("entity") == "chain"]
    return chain_from_words([*entities, tracker.get_slot("chain")])


def _time(epoch: Optional[int]) -> str:
    if not epoch:
        return "-"
    return local_time(datetime.fromtimestamp(int(epoch), timezone.utc).replace(tzinfo=None).isoformat())


def summary(facts: F.TxFacts) -> Dict[str, Any]:
    """What the ticket carries (deskapi.escalations.lookup_details flattens it)."""
    destination = facts.transfers[0].recipient if facts.transfers else facts.recipient
    amounts = [f"{t.amount} {t.symbol or 'token ' + t.contract}" for t in facts.transfers]
    if facts.amount and facts.amount != "0":
        amounts.insert(0, f"{facts.amount} {facts.symbol}")
    return {"state": facts.state, "chain": facts.label, "tx_hash": facts.tx_hash, "block": facts.block,
            "confirmations": facts.confirmations, "from": facts.sender, "to": destination,
            "amount": "; ".join(amounts) or None, "reason": facts.reason, "fee": facts.fee and f"{facts.fee} {facts.symbol}"}


class ActionLookupTransaction(Action):
    def __init__(self, lookup: Optional[ChainLookup] = None) -> None:
        self._lookup = lookup  # injectable for tests; the action server's shared one otherwise

    @property
    def lookup(self) -> ChainLookup:
        return self._lookup or get_lookup()

    def name(self) -> Text:
        return "action_lookup_transaction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        message = tracker.latest_message or {}
        intent = _intent(message)
        events: List[Dict[Text, Any]] = [SlotSet(REFERENCE_SLOT, None)]
        if intent in ("affirm", "deny") and not tracker.get_slot(QUESTION_SLOT):
            # A plain yes/no after an answer (the rule sends any yes/no right after the lookup here).
            dispatcher.utter_message(response="utter_anything_else" if intent == "affirm" else "utter_deny_ack")
            return events
        if intent in ("affirm", "deny"):
            events.append(SlotSet(QUESTION_SLOT, None))
            asked = _previous_user_message(tracker)
            ref = first_ref(asked.get("text") or "")
            if ref is None:
                dispatcher.utter_message(response="utter_anything_else")
                return events
            if intent == "deny":
                dispatcher.utter_message(response="utter_lookup_not_a_hash")
                return events + [SlotSet("tx_hash", None)]
            ref, answer_intent, source = replace(ref, explicit=True), _intent(asked), asked
        else:
            ref, answer_intent, source = first_ref(message.get("text") or ""), intent, message
            if ref is None:  # the slot was left from an earlier message: the usual answer
                return events + await self._usual_answer(dispatcher, tracker, domain, answer_intent, inline=True)
            if not ref.explicit:
                language = tracker_language(tracker)
                dispatcher.utter_message(response="utter_lookup_is_it_a_hash", buttons=[
                    {"title": response_text(domain, "utter_button_lookup_yes", language), "payload": YES},
                    {"title": response_text(domain, "utter_button_lookup_no", language), "payload": NO}])
                # Nothing of the candidate is kept until the user says it is a hash.
                return events + [SlotSet(QUESTION_SLOT, True), SlotSet("tx_hash", None)]
        try:
            outcome = await asyncio.wait_for(self.lookup.lookup(ref, _named_chain(tracker, source)),
                                             timeout=DEADLINE_SECONDS + 0.3)
        except Exception:  # noqa: BLE001 - a lookup must never cost the user their answer
            logger.exception("transaction lookup failed")
            outcome = Outcome("unavailable")
        if outcome.kind == "unavailable":
            dispatcher.utter_message(response="utter_lookup_unavailable")
            return events + [SlotSet("tx_hash", ref.tx_hash)] + await self._usual_answer(
                dispatcher, tracker, domain, answer_intent, inline=answer_intent == intent)
        self.tell(dispatcher, domain, tracker_language(tracker), outcome, ref)
        facts = outcome.facts
        events += [SlotSet("tx_hash", ref.tx_hash)]
        if outcome.kind == "found":
            events += [SlotSet("chain", facts.label), SlotSet(LOOKUP_SLOT, json.dumps(summary(facts), ensure_ascii=False))]
        else:
            events += [SlotSet(LOOKUP_SLOT, json.dumps({"state": F.NOT_FOUND, "tx_hash": ref.tx_hash,
                                                        "chain": ", ".join(self._labels(outcome.tried))}))]
        return events

    def _labels(self, chains: List[str]) -> List[str]:
        return [self.lookup.labels.get(c, c) for c in chains]

    async def _usual_answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                            intent: Optional[str], inline: bool) -> List[Dict[Text, Any]]:
        """Today's answer: the FAQ action (incident notices included) for this turn's intent, else its text."""
        if intent == "nlu_fallback" and inline:
            from actions.clarify import ActionClarify

            return [e for e in await ActionClarify().run(dispatcher, tracker, domain) or [] if e.get("event") != "followup"]
        if intent not in FAQ_INTENTS:
            dispatcher.utter_message(response="utter_lookup_check_hash")
            return []
        if inline:
            from answers.faq import ActionAnswerFaq

            events = await ActionAnswerFaq().run(dispatcher, tracker, domain)
            return [e for e in events if e.get("event") != "followup"]
        dispatcher.utter_message(response=f"utter_{intent}")
        return []

    def tell(self, dispatcher: CollectingDispatcher, domain: DomainDict, language: str, outcome: Outcome, ref: TxRef) -> None:
        facts = outcome.facts
        if outcome.kind == "not_found":
            chains = ", ".join(self._labels(outcome.tried))
            dispatcher.utter_message(response="utter_lookup_not_found", chains=chains, buttons=[
                {"title": response_text(domain, "utter_button_request_human", language), "payload": "/request_human"}])
            return
        if outcome.wrong_network:
            named = self.lookup.labels.get(outcome.named_chain, outcome.named_chain)
            dispatcher.utter_message(response="utter_lookup_wrong_network", named_chain=named, chain=facts.label)
        lines = self.transfer_lines(domain, language, facts)
        fields = dict(chain=facts.label, block=facts.block if facts.block is not None else "-",
                      confirmations=facts.confirmations if facts.confirmations is not None else "-",
                      block_time=_time(facts.block_time), fee=facts.fee or "-", symbol=facts.symbol or "",
                      transfer=lines, recipient=(facts.transfers[0].recipient if facts.transfers else facts.recipient) or "-",
                      sender=facts.sender or "-", nonce=facts.nonce if facts.nonce is not None else "-",
                      next_nonce=facts.next_nonce if facts.next_nonce is not None else "-",
                      fee_cap=facts.fee_cap_gwei or "-", base_fee=facts.base_fee_gwei or "-", reason=facts.reason or "-")
        if facts.state == F.CONFIRMED:
            dispatcher.utter_message(response="utter_lookup_confirmed", **fields)
        elif facts.state == F.PENDING:
            dispatcher.utter_message(response=PENDING_RESPONSES.get(facts.reason, "utter_lookup_pending"), **fields)
        else:
            dispatcher.utter_message(response=FAILED_RESPONSES.get(facts.reason, "utter_lookup_failed"), **fields)

    @staticmethod
    def transfer_lines(domain: DomainDict, language: str, facts: F.TxFacts) -> str:
        lines = []
        if facts.amount and facts.amount != "0":
            lines.append(response_text(domain, "utter_lookup_part_native", language).format(
                amount=facts.amount, symbol=facts.symbol, sender=facts.sender or "-", recipient=facts.recipient or "-"))
        for transfer in facts.transfers:
            name = "utter_lookup_part_token" if transfer.symbol else "utter_lookup_part_token_unknown"
            lines.append(response_text(domain, name, language).format(
                amount=transfer.amount, symbol=transfer.symbol or "", contract=transfer.contract,
                sender=transfer.sender, recipient=transfer.recipient))
        if not lines:
            lines.append(response_text(domain, "utter_lookup_part_none", language).format(
                sender=facts.sender or "-", recipient=facts.recipient or "-"))
        return "\n".join(lines)
