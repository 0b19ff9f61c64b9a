"""The action server's client for the agent desk's JSON API (package ``desk``).

Authenticated with DESK_API_TOKEN. Every failure to reach the desk becomes
:class:`DeskUnavailable`, so actions can tell the user the truth instead of
crashing or pretending a ticket exists.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from settings import get_settings

TIMEOUT = aiohttp.ClientTimeout(total=10)


class DeskUnavailable(Exception):
    """The desk did not answer, or answered with an error it should not give (``status``, if it answered)."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class DeskClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}

    async def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
                    not_found_ok: bool = False) -> Optional[Dict[str, Any]]:
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT, headers=self._headers) as session:
                async with session.request(method, self.base_url + path, json=body) as response:
                    if response.status == 404 and not_found_ok:
                        return None
                    if response.status >= 400:
                        raise DeskUnavailable(f"{method} {path}: HTTP {response.status} {(await response.text())[:200]}",
                                              status=response.status)
                    return await response.json()
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise DeskUnavailable(f"{method} {path}: {error!r}") from error

    @staticmethod
    def _conversation(conversation_id: str) -> str:
        return "/api/conversations/" + quote(conversation_id, safe="")

    async def ping(self) -> None:
        """Raise DeskUnavailable unless the desk and its database answer."""
        await self._call("GET", "/health")

    async def escalate(self, payload: Dict[str, Any]) -> Dict[str, Any]:
        result = await self._call("POST", "/api/escalations", payload)
        assert result is not None
        return result

    async def open_ticket(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        return await self._call("GET", self._conversation(conversation_id) + "/ticket", not_found_ok=True)

    async def append_message(self, conversation_id: str, text: str, intent: Optional[str],
                             priority: Optional[str], idempotency_key: Optional[str] = None,
                             continues_previous: bool = False) -> Optional[Dict[str, Any]]:
        """Relay a user's message to the open ticket; the desk stores it once per ``idempotency_key``.

        ``continues_previous``: the message continued the user's previous one into a seed phrase (the
        input gate's flag): the desk hides the end of the previous message it stored.
        """
        body = {"text": text, "intent": intent, "priority": priority,
                **({"idempotency_key": idempotency_key} if idempotency_key else {}),
                **({"continues_previous": True} if continues_previous else {})}
        return await self._call("POST", self._conversation(conversation_id) + "/messages", body, not_found_ok=True)

    async def attach(self, conversation_id: str, kind: str, file_id: str, channel: str, language: str) -> Dict[str, Any]:
        """A file the user sent, as a reference (Telegram ``file_id``): the desk fetches and keeps it on the ticket."""
        result = await self._call("POST", self._conversation(conversation_id) + "/attachments",
                                  {"kind": kind, "file_id": file_id, "channel": channel, "language": language})
        assert result is not None
        return result

    async def cancel(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        return await self._call("POST", self._conversation(conversation_id) + "/cancel", not_found_ok=True)

    async def rate(self, conversation_id: str, rating: int, comment: Optional[str] = None) -> Optional[Dict[str, Any]]:
        body = {"rating": rating, **({"comment": comment} if comment else {})}
        return await self._call("POST", self._conversation(conversation_id) + "/csat", body, not_found_ok=True)

    async def pending_replies(self, conversation_id: str) -> List[Dict[str, Any]]:
        result = await self._call("GET", self._conversation(conversation_id) + "/replies")
        return (result or {}).get("replies") or []

    async def request_delivery(self, conversation_id: str) -> None:
        """The user can be reached again (a widget reconnected): the desk delivers what is pending now."""
        await self._call("POST", self._conversation(conversation_id) + "/replies/deliver")

    async def active_incidents(self) -> List[Dict[str, Any]]:
        result = await self._call("GET", "/api/incidents?status=active&counts=false")
        return (result or {}).get("incidents") or []

    async def incident_contact(self, incident_id: str, payload: Dict[str, Any]) -> Dict[str, Any]:
        """Report that a conversation saw the notice, subscribed (``subscribe``) or was deflected (``deflected``)."""
        result = await self._call("POST", f"/api/incidents/{quote(incident_id, safe='')}/contacts", payload)
        assert result is not None
        return result

    async def incident_notices(self, conversation_id: str) -> List[Dict[str, Any]]:
        result = await self._call("GET", self._conversation(conversation_id) + "/incident-notices")
        return (result or {}).get("notices") or []

    async def acknowledge_incident_notices(self, conversation_id: str, ids: List[int]) -> None:
        await self._call("POST", self._conversation(conversation_id) + "/incident-notices/ack", {"ids": ids})


def get_desk_client() -> Optional[DeskClient]:
    """The configured desk, or None when this deployment has none (no DESK_API_TOKEN)."""
    desk = get_settings().desk
    return DeskClient(desk.url, desk.api_token) if desk.api_token else None
