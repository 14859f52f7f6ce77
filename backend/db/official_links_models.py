"""Officials on Telegram: linked chats, one-time link codes, ticket notifications sent to them, pending replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, utcnow


class OfficialChannelLink(Base):
    """A chat on a platform (Telegram) that belongs to an official: never treated as a citizen's chat."""

    __tablename__ = "official_channel_links"
    __table_args__ = (
        UniqueConstraint("channel", "chat_id", name="uq_official_channel_links_chat"),
        UniqueConstraint("official_id", "channel", name="uq_official_channel_links_official"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    platform_user_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OfficialLinkCode(Base):
    """A one-time code an official sends to the bot to link a chat; only an HMAC of the code is stored."""

    __tablename__ = "official_link_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OfficialTicketNotice(Base):
    """A ticket notification queued for an official's linked chat (once per ticket, official and kind); the outbox
    item carries the platform message ids, so a reply to the notification finds its ticket."""

    __tablename__ = "official_ticket_notices"
    __table_args__ = (UniqueConstraint("ticket_id", "official_id", "kind", name="uq_official_ticket_notices_once"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # new | urgent | overdue
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OfficialReplyDraft(Base):
    """An official's reply written on Telegram, waiting for the "Gửi" / "Huỷ" button."""

    __tablename__ = "official_reply_drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | sent | cancelled | refused
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
