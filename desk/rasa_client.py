"""The desk's calls to the Rasa HTTP API (authenticated with RASA_API_TOKEN).

Agent replies and ticket events reach the user by triggering internal intents
(``desk_agent_reply``, ``desk_ticket_closed``,
``desk_incident_update``) on the conversation with
``output_channel=latest``, so they go out on whatever channel the user last
wrote from. The intents carry no text: the bot's action fetches the pending
replies from the desk, so even a forged trigger could only deliver what an
agent really wrote to that very conversation. An agent reply is triggered
once per reply, naming it (``deskapi.replies``); Rasa answers non-2xx when
the channel refused it.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from deskapi.replies import AGENT_REPLY_INTENT

logger = logging.getLogger(__name__)

TICKET_CLOSED_INTENT = "desk_ticket_closed"
INCIDENT_UPDATE_INTENT = "desk_incident_update"
DESK_INTENTS = (AGENT_REPLY_INTENT, TICKET_CLOSED_INTENT, INCIDENT_UPDATE_INTENT)
TIMEOUT = aiohttp.ClientTimeout(total=30)
SECRET_METADATA_KEY = "secret_redacted"  # channels.input_gate sets it on a message whose secret it hid


class RasaUnavailable(Exception):
    """Rasa did not take the call; the caller keeps the work for a retry."""


class RasaClient:
    def __init__(self, base_url: str, token: Optional[str]) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def _url(self, conversation_id: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/{tail}"

    async def trigger(self, conversation_id: str, intent: str,
                      entities: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
        """Trigger an internal intent; the bot's answers go out on the user's latest channel.

        Returns Rasa's answer (``tracker``: the conversation after the turn). Raises
        :class:`RasaUnavailable` unless Rasa answered 200, which it does only when the output
        channel took every message of the turn (a channel that raises fails the call).
        """
        params = {"output_channel": "latest", **({"token": self.token} if self.token else {})}
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
                async with session.post(self._url(conversation_id, "trigger_intent"), params=params,
                                        json={"name": intent, **({"entities": entities} if entities else {})}) as response:
                    if response.status != 200:
                        raise RasaUnavailable(f"Rasa answered {response.status}: {(await response.text())[:200]}")
                    body = await response.json()
                    return body if isinstance(body, dict) else {}
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise RasaUnavailable(f"Rasa unreachable: {error!r}") from error

    async def transcript(self, conversation_id: str) -> List[Dict[str, Any]]:
        """The conversation's user and bot messages from the tracker store (already redacted at the channel)."""
        params = {"include_events": "ALL", **({"token": self.token} if self.token else {})}
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
                async with session.get(self._url(conversation_id, "tracker"), params=params) as response:
                    if response.status != 200:
                        raise RasaUnavailable(f"Rasa answered {response.status}")
                    tracker = await response.json()
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise RasaUnavailable(f"Rasa unreachable: {error!r}") from error
        return transcript_lines(tracker)


def transcript_lines(tracker: Dict[str, Any]) -> List[Dict[str, Any]]:
    """A tracker's user and bot messages; ``secret_redacted``: the channel hid a secret in it (its metadata flag)."""
    lines = []
    for event in tracker.get("events") or []:
        if event.get("event") not in ("user", "bot") or not event.get("text"):
            continue
        intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
        if event.get("event") == "user" and intent in DESK_INTENTS:
            continue  # desk triggers, not something the user said
        lines.append({"from": event["event"], "text": event["text"], "intent": intent,
                      "timestamp": event.get("timestamp"),
                      "secret_redacted": bool((event.get("metadata") or {}).get(SECRET_METADATA_KEY))})
    return lines
