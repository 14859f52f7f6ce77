"""Deadlines counted in Vietnamese working days (weekends and public holidays, Tết included, skipped)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("VN", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def add_working_days(start: datetime, days: int) -> datetime:
    """The end of the ``days``-th working day after ``start`` (local time 17:00), as UTC."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    local = start.astimezone(VN_TZ).date()
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if is_working_day(local):
            remaining -= 1
    return datetime(local.year, local.month, local.day, 17, 0, tzinfo=VN_TZ).astimezone(UTC)


def add_hours(start: datetime, hours: float) -> datetime:
    """Calendar hours: emergencies do not wait for working days."""
    return start + timedelta(hours=hours)
