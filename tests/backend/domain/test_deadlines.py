from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.domain.deadlines import VN_TZ, add_hours, add_working_days, is_working_day


def local(y: int, m: int, d: int, h: int = 9) -> datetime:
    return datetime(y, m, d, h, tzinfo=VN_TZ)


def test_weekend_is_skipped() -> None:
    friday = local(2026, 11, 20)
    assert add_working_days(friday, 1).astimezone(VN_TZ).date().isoformat() == "2026-11-23"  # Monday


def test_tet_2027_is_skipped() -> None:
    # Tết Đinh Mùi: 4-10 February 2027 are public holidays; 3 Feb is a Wednesday.
    start = local(2027, 2, 3)
    assert not is_working_day(local(2027, 2, 8).date())
    due = add_working_days(start, 2).astimezone(VN_TZ)
    assert due.date().isoformat() == "2027-02-12"  # Thu 11, Fri 12
    assert due.hour == 17


def test_national_day_and_reunification_day() -> None:
    assert not is_working_day(local(2027, 9, 2).date())
    assert not is_working_day(local(2027, 4, 30).date())


def test_fifteen_working_days() -> None:
    due = add_working_days(local(2026, 12, 1), 15).astimezone(VN_TZ)
    assert due.date().isoformat() == "2026-12-22"


def test_vietnam_cultural_day_is_a_holiday() -> None:
    # 24 November became a public holiday (Ngày Văn hóa Việt Nam) from 2026.
    assert not is_working_day(local(2026, 11, 24).date())


def test_urgent_hours_are_calendar_hours() -> None:
    start = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)  # a Saturday night
    assert add_hours(start, 4) == datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_days(datetime(2026, 1, 5), 1)
