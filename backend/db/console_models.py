"""Tables of the officials' console: reply templates per unit (inherited by the units below)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, utcnow  # not models: models imports this module


class ReplyTemplate(Base):
    """A canned reply of a unit, usable by its officials and by every unit below it.

    ``text`` may hold the placeholders ``{code}``, ``{unit}`` and ``{deadline}``, filled when an official picks it.
    ``unit_code`` is a plain code (no foreign key): the TW defaults are written by the migration, before the
    organisation tree is seeded.
    """

    __tablename__ = "reply_templates"
    __table_args__ = (UniqueConstraint("unit_code", "name", name="uq_reply_templates_unit_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
