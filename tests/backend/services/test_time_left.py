"""The time left to a deadline as the inbox shows it, in Vietnamese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.services.presenters import time_left

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def test_days_hours_and_overdue() -> None:
    assert time_left(NOW + timedelta(days=2, hours=3), NOW) == "còn 2 ngày"
    assert time_left(NOW + timedelta(hours=24), NOW) == "còn 1 ngày"
    assert time_left(NOW + timedelta(hours=23, minutes=59), NOW) == "còn 23 giờ"
    assert time_left(NOW + timedelta(hours=5, minutes=30), NOW) == "còn 5 giờ"
    assert time_left(NOW + timedelta(minutes=20), NOW) == "còn dưới 1 giờ"
    assert time_left(NOW, NOW) == "còn dưới 1 giờ"
    assert time_left(NOW - timedelta(minutes=5), NOW) == "quá hạn dưới 1 giờ"
    assert time_left(NOW - timedelta(hours=3), NOW) == "quá hạn 3 giờ"
    assert time_left(NOW - timedelta(days=1, hours=2), NOW) == "quá hạn 1 ngày"
    assert time_left(NOW - timedelta(days=40), NOW) == "quá hạn 40 ngày"


def test_nothing_for_no_deadline_or_a_closed_ticket() -> None:
    assert time_left(None, NOW) == ""
    assert time_left(NOW - timedelta(days=3), NOW, closed=True) == ""
