"""How an agent reply travels from the desk through Rasa to the user, shared by the desk and the bot.

The desk triggers ``desk_agent_reply`` once per reply, naming it in the entity ``desk_reply_id``
(not a domain entity, so the policies never see it). The bot's action fetches that reply from the
desk and says it; Rasa sends it on the user's channel and saves the turn only if the channel took
it (an output channel that raises fails the HTTP call and discards the turn). So a saved trigger for
a reply followed by the bot saying it means the user has it: the desk marks it delivered on that,
and the action does not say it again when a retry asks for a reply an earlier turn already sent.
Pure: no I/O, imported by the desk too.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

AGENT_REPLY_INTENT = "desk_agent_reply"
REPLY_ID_ENTITY = "desk_reply_id"


def reply_entities(reply_id: int) -> List[Dict[str, Any]]:
    """The trigger's entities naming the reply to say."""
    return [{"entity": REPLY_ID_ENTITY, "value": reply_id}]


def named_replies(parse_data: Optional[Dict[str, Any]]) -> List[int]:
    """The reply ids a trigger names (a user event's parse data), in order."""
    data = parse_data or {}
    if (data.get("intent") or {}).get("name") != AGENT_REPLY_INTENT:
        return []
    ids = []
    for entity in data.get("entities") or ():
        value = entity.get("value") if isinstance(entity, dict) and entity.get("entity") == REPLY_ID_ENTITY else None
        if isinstance(value, int) and not isinstance(value, bool) or isinstance(value, str) and value.isdigit():
            ids.append(int(value))
    return ids


def reply_said(events: Iterable[Dict[str, Any]], reply_id: int, text: Optional[str] = None) -> bool:
    """Whether a trigger naming ``reply_id`` was followed, in its own turn, by the bot saying it (ending in ``text``)."""
    asked = False
    for event in events:
        kind = event.get("event")
        if kind == "user":
            asked = reply_id in named_replies(event.get("parse_data"))
        elif kind == "bot" and asked and (text is None or (event.get("text") or "").endswith(text)):
            return True
    return False
