"""Tables of the periodic reports: generated files kept for download, and the console notices announcing them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, utcnow


class GeneratedReport(Base):
    """A DOCX or XLSX report of one unit for one period, kept so officials can download it from the console."""

    __tablename__ = "generated_reports"
    __table_args__ = (
        UniqueConstraint("unit_code", "period_start", "period_end", "format", name="uq_generated_reports_once"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("org_units.code"), index=True)
    period_start: Mapped[date] = mapped_column(Date)  # first day, Vietnam calendar
    period_end: Mapped[date] = mapped_column(Date)  # last day, inclusive
    period_label: Mapped[str] = mapped_column(String(32))  # e.g. "2026-11"
    format: Mapped[str] = mapped_column(String(8))  # docx | xlsx
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64), default="worker")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ConsoleNotice(Base):
    """A notice shown to the officials of a unit in the console (e.g. a new periodic report to download)."""

    __tablename__ = "console_notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("org_units.code"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # report_ready | ...
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
