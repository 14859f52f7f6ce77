"""Tables of the officials' inbox: the views an official saved (a name and the list's filters as a query string)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, utcnow


class SavedView(Base):
    """A named set of filters of the console's list, one official's own (e.g. "Đèn đường phường tôi")."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("official_id", "name", name="uq_saved_views_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(1000))  # the list's query string, checked again when opened
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
