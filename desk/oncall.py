"""Alert the on-call agents' Telegram chat about new P1 tickets (SPEC §3).

The Bot API base URL is a setting, so tests (and a local Bot API server) can
stand in for api.telegram.org. A failed alert is logged, never raised: the
ticket exists either way and is at the top of the queue.
"""

from __future__ import annotations

import logging
from typing import Optional

import aiohttp

from desk.models import Ticket

logger = logging.getLogger(__name__)


class OnCallAlerts:
    def __init__(self, api_base: str, bot_token: Optional[str], chat_id: Optional[str], desk_url: str) -> None:
        self.api_base = api_base.rstrip("/")
        self.bot_token = bot_token
        self.chat_id = chat_id
        self.desk_url = desk_url.rstrip("/")

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token and self.chat_id)

    def text_for(self, ticket: Ticket) -> str:
        return (f"🚨 {ticket.priority} {ticket.public_id} · {ticket.intent or 'unknown'} · {ticket.channel}\n"
                f"SLA {ticket.sla_deadline:%Y-%m-%d %H:%M} UTC\n{self.desk_url}/desk/tickets/{ticket.public_id}")

    async def new_p1(self, ticket: Ticket) -> bool:
        if not self.enabled or ticket.priority != "P1":
            return False
        url = f"{self.api_base}/bot{self.bot_token}/sendMessage"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                async with session.post(url, json={"chat_id": self.chat_id, "text": self.text_for(ticket),
                                                   "disable_web_page_preview": True}) as response:
                    if response.status != 200:
                        logger.error("on-call alert for %s refused: HTTP %s", ticket.public_id, response.status)
                        return False
                    return True
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            logger.error("on-call alert for %s failed: %r", ticket.public_id, error)
            return False
