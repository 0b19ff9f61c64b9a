"""Shifts, SLA deadlines and honest ETAs.

The ETA a user is told comes from the queue ahead of them and the agents on
shift now, at the pace the desk has measured (or the configured prior while
there is no history). With nobody on shift the desk says so and names the
start of the next shift instead of inventing a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional, Sequence
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class ShiftWindow:
    weekdays: frozenset  # 0 = Monday
    start_minute: int
    end_minute: int  # exclusive; 1440 = midnight
    agents: int

    def covers(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.weekdays and self.start_minute <= minute < self.end_minute


def parse_hhmm(value: str) -> int:
    """``"08:30"`` -> 510; ``"24:00"`` -> 1440. Raises ValueError otherwise."""
    hours, _, minutes = value.strip().partition(":")
    total = int(hours) * 60 + int(minutes or 0)
    if not 0 <= total <= 1440 or not 0 <= int(minutes or 0) < 60:
        raise ValueError(f"not a time of day: {value!r}")
    return total


def format_hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def utcnow() -> datetime:
    """Naive UTC, as stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Schedule:
    """The shift plan in one time zone."""

    def __init__(self, shifts: Iterable[ShiftWindow], tz: str) -> None:
        self.shifts = list(shifts)
        self.zone = ZoneInfo(tz)

    def local(self, now_utc: datetime) -> datetime:
        return now_utc.replace(tzinfo=timezone.utc).astimezone(self.zone)

    def agents_on_shift(self, now_utc: datetime) -> int:
        local = self.local(now_utc)
        return sum(s.agents for s in self.shifts if s.covers(local))

    def next_shift_start(self, now_utc: datetime) -> Optional[datetime]:
        """UTC start of the next minute someone is on shift, within a week; None if never."""
        local = self.local(now_utc).replace(second=0, microsecond=0)
        starts = []
        for day in range(8):
            date = (local + timedelta(days=day)).date()
            for shift in self.shifts:
                if shift.agents <= 0 or date.weekday() not in shift.weekdays:
                    continue
                start = datetime.combine(date, datetime.min.time(), tzinfo=self.zone) + timedelta(
                    minutes=shift.start_minute
                )
                if start > local:
                    starts.append(start)
        if not starts:
            return None
        return min(starts).astimezone(timezone.utc).replace(tzinfo=None)


def sla_deadline(created_at: datetime, priority: str, sla_minutes: dict) -> datetime:
    return created_at + timedelta(minutes=int(sla_minutes[priority]))


@dataclass(frozen=True)
class Eta:
    """What the user is told about waiting."""

    queue_position: int  # 1 = next
    agents_on_shift: int
    minutes: Optional[int]  # None when nobody is on shift
    next_shift_start: Optional[datetime]  # UTC, only when nobody is on shift


def estimate(queue_position: int, agents_on_shift: int, minutes_per_ticket: float,
             schedule: Schedule, now_utc: datetime) -> Eta:
    """Tickets ahead shared by the agents on shift, at the measured pace."""
    if agents_on_shift <= 0:
        return Eta(queue_position, 0, None, schedule.next_shift_start(now_utc))
    rounds = math.ceil(queue_position / agents_on_shift)
    return Eta(queue_position, agents_on_shift, max(1, math.ceil(rounds * minutes_per_ticket)), None)


def median(values: Sequence[float]) -> Optional[float]:
    return percentile(values, 50)


def percentile(values: Sequence[float], pct: float) -> Optional[float]:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
