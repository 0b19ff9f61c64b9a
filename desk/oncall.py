"""The on-call agents' Telegram chat: the messages ``desk.paging.Pager`` sends about P1 tickets (SPEC §3).

The Bot API base URL is a setting, so tests (and a local Bot API server) can
stand in for api.telegram.org. A failed send is logged, never raised, and
reported as False: the pager tries again on its next round.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional, Sequence

import aiohttp

from desk.models import Ticket

logger = logging.getLogger(__name__)
LISTED_IN_A_SUMMARY = 10


class OnCallAlerts:
    def __init__(self, api_base: str, bot_token: Optional[str], chat_id: Optional[str], desk_url: str) -> None:
        self.api_base = api_base.rstrip("/")
        self.bot_token = bot_token
        self.chat_id = chat_id
        self.desk_url = desk_url.rstrip("/")

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token and self.chat_id)

    def text_for(self, ticket: Ticket, now: Optional[datetime] = None) -> str:
        waiting = ""
        if now is not None and ticket.paged_at is not None:
            waiting = f" · unclaimed for {int((now - ticket.created_at).total_seconds() // 60)} min"
        return (f"🚨 {ticket.priority} {ticket.public_id} · {ticket.intent or 'unknown'} · {ticket.channel}{waiting}\n"
                f"SLA {ticket.sla_deadline:%Y-%m-%d %H:%M} UTC\n{self.desk_url}/desk/tickets/{ticket.public_id}")

    def summary_for(self, tickets: Sequence[Ticket], window_seconds: float) -> str:
        """Several tickets in one message: how many are new, how many still wait, the first few ids."""
        new = sum(1 for t in tickets if t.paged_at is None)
        waiting = len(tickets) - new
        period = "minute" if round(window_seconds) == 60 else f"{int(window_seconds)} seconds"
        parts = [f"{new} new P1 ticket{'s' if new != 1 else ''} in the last {period}"] if new else []
        if waiting:
            parts.append(f"{waiting} P1 ticket{'s' if waiting != 1 else ''} still unclaimed")
        listed = " ".join(t.public_id for t in tickets[:LISTED_IN_A_SUMMARY])
        more = f" (+{len(tickets) - LISTED_IN_A_SUMMARY} more)" if len(tickets) > LISTED_IN_A_SUMMARY else ""
        return f"🚨 {'; '.join(parts)}\n{listed}{more}\n{self.desk_url}/desk/"

    async def send(self, text: str) -> bool:
        """Post ``text`` to the on-call chat; True once the Bot API took it."""
        if not self.enabled:
            return False
        url = f"{self.api_base}/bot{self.bot_token}/sendMessage"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                async with session.post(url, json={"chat_id": self.chat_id, "text": text,
                                                   "disable_web_page_preview": True}) as response:
                    if response.status != 200:
                        logger.error("on-call page refused: HTTP %s", response.status)
                        return False
                    return True
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            logger.error("on-call page failed: %r", error)
            return False
