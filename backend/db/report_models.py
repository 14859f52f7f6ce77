"""Tables of the summary reports: topics that jumped (each also announced by a console notice to the unit)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, utcnow  # not models: models imports this module


class TopicAlert(Base):
    """A petition topic that jumped in a unit's subtree (e.g. ≥ 3× the previous period and ≥ 10 petitions).

    Stored once per unit, topic and ISO week (``week``, e.g. "2026-W48"), so asking for the summary again does not
    notify the unit's officials again.
    """

    __tablename__ = "topic_alerts"
    __table_args__ = (
        UniqueConstraint("unit_code", "topic_key", "week", name="uq_topic_alerts_once"),
        Index("ix_topic_alerts_unit_created", "unit_code", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("org_units.code"))
    topic_key: Mapped[str] = mapped_column(String(200))
    week: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    previous: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # keywords, example codes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
