"""Daily roll-ups of the summary reports: the tickets of each Vietnam calendar day counted per unit, field, channel,
status, urgency, overdue flag, rating and first-response time, so that summaries over whole past days read a few
narrow rows instead of the tickets and their events (``backend/services/rollups.py`` keeps them up to date)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, utcnow  # not models: models imports this module


class _RolledUpValues:
    """The values a ticket is counted under: its day (Vietnam time), unit, field, channel, status, flags, rating and
    first-response time."""

    day: Mapped[date] = mapped_column(Date)
    unit_code: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean)
    overdue: Mapped[bool] = mapped_column(Boolean)
    rating: Mapped[int | None] = mapped_column(Integer)
    response_centihours: Mapped[int | None] = mapped_column(Integer)


class ReportDaily(_RolledUpValues, Base):
    """How many tickets created on ``day`` (Vietnam time) share these values, and how many of them were answered,
    and answered on time. ``category`` is "chua_phan_loai" for tickets without a field; ``overdue`` is the flag set
    by the deadline worker (summaries add the open tickets past their deadline not flagged yet);
    ``response_centihours`` is the time to an official's first reply or status change, in hundredths of an hour."""

    __tablename__ = "report_daily"
    __table_args__ = (Index("ix_report_daily_day_unit", "day", "unit_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)


class ReportTicketFact(_RolledUpValues, Base):
    """What the daily roll-ups (``report_daily``) counted of each ticket when its day was last rolled up: summaries
    take back these facts of the tickets changed since then and count their current ones instead
    (``backend/services/rollups.py``), so a change does not send a whole day back to the tickets."""

    __tablename__ = "report_ticket_facts"
    __table_args__ = (Index("ix_report_ticket_facts_day", "day"),)
    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    answered: Mapped[bool] = mapped_column(Boolean)
    on_time: Mapped[bool] = mapped_column(Boolean)


class RollupState(Base):
    """How far the roll-ups go: every whole day up to ``covered_until``, with the changes to tickets up to the
    watermarks (tickets updated at or before ``updated_until``, tickets and events up to the ids). Days with later
    changes are read from the tickets until the worker has rolled them up again."""

    __tablename__ = "report_rollup_state"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    covered_until: Mapped[date | None] = mapped_column(Date)
    updated_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ticket_id: Mapped[int] = mapped_column(Integer, default=0)
    event_id: Mapped[int] = mapped_column(Integer, default=0)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TopicCache(Base):
    """Emerging topics of one summary query (unit, period, filters, the asker's scope), computed by the worker or by
    a first request and reused while the period's counts per field stay (nearly) the same."""

    __tablename__ = "report_topic_cache"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the query
    unit_code: Mapped[str] = mapped_column(String(16), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the period's counts per field
    total: Mapped[int] = mapped_column(Integer)
    data: Mapped[list[Any]] = mapped_column(default=list)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
