"""Paging on-call about P1 tickets, from the desk's background loop (and at once after an escalation).

A round pages about every not-closed P1 ticket on-call has not been told
about yet — new, raised to P1 by a merge or during the handoff, or whose
page failed — and about every unclaimed one last paged at least
``oncall_repage_minutes`` ago. Tickets flagged as a flood never page.

Never more than one message per ``oncall_coalesce_seconds``: the first page
of a burst goes out at once, what comes in during the window waits for its
end and goes out as one message with the count ("12 new P1 tickets in the
last minute"). A failed send marks nothing, so the next round tries again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Optional

from desk.oncall import OnCallAlerts
from desk.schedule import utcnow
from desk.service import DeskService
from desk.settings import DeskSettings

logger = logging.getLogger(__name__)


class Pager:
    def __init__(self, service: DeskService, alerts: OnCallAlerts, settings: DeskSettings) -> None:
        self.service, self.alerts = service, alerts
        self.repage_after = timedelta(minutes=settings.oncall_repage_minutes)
        self.window = timedelta(seconds=settings.oncall_coalesce_seconds)
        self.last_sent: Optional[datetime] = None
        self._lock = asyncio.Lock()

    async def run_round(self, now: Optional[datetime] = None) -> int:
        """Page about what is due, unless a page went out within the window; returns the messages sent (0 or 1)."""
        if not self.alerts.enabled:
            return 0
        async with self._lock:
            now = now or utcnow()
            if self.last_sent is not None and now - self.last_sent < self.window:
                return 0
            due = self.service.tickets_to_page(now, self.repage_after)
            if not due:
                return 0
            text = (self.alerts.text_for(due[0], now) if len(due) == 1
                    else self.alerts.summary_for(due, self.window.total_seconds()))
            if not await self.alerts.send(text):
                return 0
            self.service.mark_paged([t.id for t in due], now)
            self.last_sent = now
            return 1

    async def loop(self, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.run_round()
            except Exception:  # the loop must outlive one bad round (e.g. the database restarting)
                logger.exception("paging round failed")
