"""While a ticket is open the conversation belongs to a person (SPEC §3).

``handoff_form``'s relay of every message to the ticket is ``answers/handoff.py``
(the gateway runs it in the Rasa process; importing it here registers it with the
action server too). Here: what the loop steps aside for, the control intents
``cancel_handoff``, ``ticket_status`` and the desk's internal intents
(``desk_agent_reply``, ``desk_ticket_closed``). The internal intents carry no
text and cannot be typed into a channel (safety.payloads); their
actions fetch what to say from the desk, so a forged trigger could deliver
nothing that an agent did not write to this conversation. Nothing here marks a
reply delivered: the desk does, once the channel took it (``deskapi.replies``).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from answers.desk_action import DeskAction
from answers.escalation import HANDOFF_FORM
from answers.handoff import (ActionAskHandoffMessage, ValidateHandoffForm,  # noqa: F401 - registered here
                             leave_handoff)
from answers.language import DomainDict, response_text, tracker_language
from deskapi.client import DeskClient, DeskUnavailable
from deskapi.replies import named_replies, reply_said

logger = logging.getLogger(__name__)

_RATING_WORDS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


HANDBACK_ENTITY = "desk_handback"  # desk.routes.agents: the close was a hand-back to the bot


def handed_back(message: Optional[Dict[str, Any]]) -> bool:
    """Whether the desk's close trigger says the agent handed the user back (no rating asked)."""
    return any(isinstance(e, dict) and e.get("entity") == HANDBACK_ENTITY and e.get("value") in (True, "true")
               for e in (message or {}).get("entities") or ())


def parse_rating(text: str) -> Optional[int]:
    """1-5 from "5", "5分", "五星", "⭐⭐⭐⭐", "rate 4"; None when there is no single clear rating."""
    out_of_five = re.search(r"(?<!\d)([1-5])\s*(?:/|out of|分之)\s*5(?!\d)", text)
    if out_of_five:
        return int(out_of_five.group(1))
    stars = text.count("⭐") + text.count("★")
    if 1 <= stars <= 5:
        return stars
    digits = re.findall(r"(?<!\d)[1-5](?!\d)", text)
    if len(set(digits)) == 1:
        return int(digits[0])
    words = [_RATING_WORDS[ch] for ch in text if ch in _RATING_WORDS]
    if len(set(words)) == 1 and re.search(r"[一二两三四五]\s*(分|星|颗星)", text):
        return words[0]
    return None


_RATING_PARTS = re.compile(
    r"(?<!\d)[1-5]\s*(?:/|out of|分之)\s*5(?!\d)|[⭐★]+|(?<!\d)[1-5](?!\d)\s*(?:分|星|颗星|stars?|points?)?"
    r"|[一二两三四五]\s*(?:分|星|颗星)|给个|打|评分|rating|rate|i give|give", re.I)


def rating_comment(text: str) -> Optional[str]:
    """The line a user added to a rating ("1分，太慢了" → "太慢了"); None for a bare rating."""
    rest = _RATING_PARTS.sub(" ", text)
    rest = re.sub(r"^[\s,，.。:：;；!！~、-]+|[\s,，.。:：;；!！~、-]+$", "", rest)
    return rest[:200] if len(rest) >= 2 else None


class ActionCancelHandoff(DeskAction):
    """"取消人工": close the ticket as cancelled and give the conversation back to the bot."""

    def name(self) -> Text:
        return "action_cancel_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        desk = self.desk
        if desk is None:
            dispatcher.utter_message(response="utter_no_handoff_to_cancel")
            return leave_handoff()
        try:
            cancelled = await desk.cancel(tracker.sender_id)
        except DeskUnavailable as error:
            logger.error("cancel for %s failed: %s", tracker.sender_id, error)
            dispatcher.utter_message(response="utter_desk_unreachable")
            return []
        if cancelled is None:
            dispatcher.utter_message(response="utter_no_handoff_to_cancel")
        else:
            dispatcher.utter_message(response="utter_handoff_cancelled", ticket_id=cancelled["ticket"]["id"])
        return leave_handoff()


async def say_requested_replies(desk: DeskClient, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> int:
    """Say the agent replies this trigger names, unless an earlier saved turn already said them.

    Nothing is acknowledged here: the desk marks a reply delivered once Rasa's channel took it
    (its trigger answered 2xx) and the tracker shows the bot said it (``deskapi.replies``).
    """
    wanted = named_replies(tracker.latest_message)
    if not wanted:
        return 0
    pending = {reply["id"]: reply for reply in await desk.pending_replies(tracker.sender_id)}
    label = response_text(domain, "utter_agent_reply_label", tracker_language(tracker))
    replies = [pending[i] for i in wanted if i in pending and not reply_said(tracker.events, i, pending[i]["text"])]
    for reply in replies:
        dispatcher.utter_message(text=f"{label}{reply['text']}")
    return len(replies)


class ActionDeliverAgentReply(DeskAction):
    """Triggered by the desk through Rasa's HTTP API, once per reply: pass the agent's reply on."""

    def name(self) -> Text:
        return "action_deliver_agent_reply"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        desk = self.desk
        if desk is None:
            return []
        try:
            await say_requested_replies(desk, dispatcher, tracker, domain)
        except DeskUnavailable as error:  # nothing said: the desk sees that and tries again
            logger.error("fetching agent replies for %s failed: %s", tracker.sender_id, error)
        return []


class ActionTicketClosed(DeskAction):
    """Triggered by the desk when an agent closed the ticket: end the handoff, ask for a rating."""

    def name(self) -> Text:
        return "action_ticket_closed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        desk = self.desk
        if desk is None:
            return []
        try:  # the desk delivered the pending replies before it announced the close
            still_open = await desk.open_ticket(tracker.sender_id)
        except DeskUnavailable as error:
            logger.error("close of %s not confirmed: %s", tracker.sender_id, error)
            return []
        if still_open is not None:
            return []  # not closed after all: nothing to announce
        if handed_back(tracker.latest_message):
            dispatcher.utter_message(response="utter_handed_back")  # no rating: the conversation goes on with the bot
            return leave_handoff() if tracker.active_loop_name == HANDOFF_FORM else []
        dispatcher.utter_message(response="utter_ticket_closed")
        dispatcher.utter_message(response="utter_ask_csat")
        return leave_handoff() if tracker.active_loop_name == HANDOFF_FORM else []


class ActionRecordCsat(DeskAction):
    """A 1-5 rating for the ticket that was just closed."""

    def name(self) -> Text:
        return "action_record_csat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        text = (tracker.latest_message or {}).get("text") or ""
        rating = parse_rating(text)
        desk = self.desk
        if rating is None:
            dispatcher.utter_message(response="utter_ask_csat")
            return []
        if desk is None:
            dispatcher.utter_message(response="utter_csat_nothing_to_rate")
            return []
        try:
            rated = await desk.rate(tracker.sender_id, rating, rating_comment(text))
        except DeskUnavailable as error:
            logger.error("rating for %s not stored: %s", tracker.sender_id, error)
            dispatcher.utter_message(response="utter_desk_unreachable")
            return []
        if rated is None:
            dispatcher.utter_message(response="utter_csat_nothing_to_rate")
        else:
            dispatcher.utter_message(response="utter_csat_thanks", rating=rating)
        return []
