"""The capacity alarm: a person hears when a P1 cannot be answered within its SLA.

The forecast is the one the bot quotes the user (``DeskService._eta``): the last unflagged P1
in the queue, its place shared by the agents available (online, else the shift plan), at the
measured pace; with nobody available, the wait until the next shift. When it first exceeds the P1
SLA an episode starts: supervisors get a desk notice and on-call a Telegram page, once, with the
queue length and the agents online. The episode ends when the forecast is back within the SLA; a
failed page is retried while the episode lasts.

Escalations ask for a check through :meth:`CapacityAlarm.check_soon`: in an outage flood
hundreds arrive per second, and one forecast (six queries) per escalation was a fifth of the
desk's work. Every escalation of the next half second shares one check, which reads the
queue after all of them.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import func, select

from desk import assignment
from desk.models import Ticket
from desk.notifications import Notices
from desk.oncall import OnCallAlerts
from desk.schedule import utcnow
from desk.service import DeskService

logger = logging.getLogger(__name__)

COALESCE_SECONDS = 0.5


@dataclass(frozen=True)
class Forecast:
    p1_waiting: int
    queue_length: int
    agents_online: int
    agents_available: int
    minutes: Optional[float]  # None: nobody available and no shift ahead
    sla_minutes: int

    @property
    def exceeded(self) -> bool:
        return self.p1_waiting > 0 and (self.minutes is None or self.minutes > self.sla_minutes)


class CapacityAlarm:
    def __init__(self, service: DeskService, alerts: OnCallAlerts, notices: Notices) -> None:
        self.service, self.alerts, self.notices = service, alerts, notices
        self.in_episode = False
        self.paged = False
        self._lock = asyncio.Lock()
        self._soon: Optional["asyncio.Task[bool]"] = None

    def forecast(self, now: Optional[datetime] = None) -> Forecast:
        now = now or utcnow()
        with self.service.db.session() as s:
            waiting = select(func.count(Ticket.id)).where(Ticket.status == "open")
            queue_length = int(s.scalar(waiting) or 0)
            p1 = int(s.scalar(waiting.where(Ticket.priority == "P1", Ticket.flagged_flood.is_(False))) or 0)
            schedule = self.service.schedule(s)
            available = self.service.agents_available(s, now, schedule)
            online = assignment.count_online(s)
            pace = self.service.minutes_per_ticket(s)
        sla = int(self.service.settings.sla_minutes["P1"])
        if available > 0:
            minutes: Optional[float] = math.ceil(max(p1, 1) / available) * pace
        else:
            start = schedule.next_shift_start(now)
            minutes = None if start is None else (start - now).total_seconds() / 60 + pace
        return Forecast(p1, queue_length, online, available, minutes, sla)

    def text(self, forecast: Forecast) -> str:
        wait = "no agent available" if forecast.minutes is None else f"about {int(forecast.minutes)} min"
        return (f"⚠️ Capacity: a P1 waits {wait} for a first response (SLA {forecast.sla_minutes} min). "
                f"Queue: {forecast.queue_length} waiting ({forecast.p1_waiting} P1), agents online: {forecast.agents_online}.\n"
                f"{self.alerts.desk_url}/desk/")

    async def check(self, now: Optional[datetime] = None) -> bool:
        """Start, continue or end the episode; True when this call paged."""
        async with self._lock:
            forecast = self.forecast(now)
            if not forecast.exceeded:
                self.in_episode, self.paged = False, False
                return False
            if not self.in_episode:
                self.in_episode = True
                self.notices.post("capacity", priority="P1", detail=self.text(forecast).split("\n")[0])
            if self.paged or not self.alerts.enabled:
                return False
            self.paged = await self.alerts.send(self.text(forecast))
            return self.paged

    def check_soon(self) -> "asyncio.Task[bool]":
        """A check within ``COALESCE_SECONDS`` that also covers every escalation until it starts."""
        if self._soon is None or self._soon.done():
            self._soon = asyncio.ensure_future(self._check_after_pause())
        return self._soon

    async def _check_after_pause(self) -> bool:
        await asyncio.sleep(COALESCE_SECONDS)
        self._soon = None  # an escalation from now on asks for a check of its own
        try:
            return await self.check()
        except Exception:  # a failed check must not end as an unretrieved task error
            logger.exception("capacity check failed")
            return False

    async def loop(self, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.check()
            except Exception:  # the loop must outlive one bad round
                logger.exception("capacity check failed")
