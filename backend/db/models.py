"""Database tables (SQLAlchemy 2 declarative). Works on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    column,
    desc,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db.base import NAMING, Base, UTCDateTime, utcnow
from backend.domain.search import search_key

__all__ = ["NAMING", "Base", "UTCDateTime", "utcnow"]  # re-exported: callers and migrations name them here


class OrgUnit(Base):
    """A Front committee: central (TW), a province (2-digit code) or a commune (5-digit code)."""

    __tablename__ = "org_units"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16), index=True)  # central | province | commune
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("org_units.code"), index=True)
    division_type: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Citizen(Base):
    __tablename__ = "citizens"
    __table_args__ = (UniqueConstraint("channel", "platform_user_id", name="uq_citizens_channel_user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    consent: Mapped[str | None] = mapped_column(String(16))  # named | anonymous | None
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # personal data removed (Decree 13/2023)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (  # the inbox's filters, sorts and text search (backend/services/ticket_query.py)
        Index("ix_tickets_unit_status_deadline", "unit_code", "status", "deadline"),
        Index(  # the default order; after it the filters checked inside the index (SQLite sorts without it)
            "ix_tickets_inbox_urgency",
            desc(column("urgent")),
            desc(column("overdue")),
            "deadline",
            "id",
            "category",
            "channel",
            "created_at",
        ).ddl_if(dialect="postgresql"),
        Index("ix_tickets_deadline", "deadline", "id"),  # the order by deadline
        Index(  # the order by deadline, latest first (no ticket without a deadline first)
            "ix_tickets_deadline_desc", desc(column("deadline")).nulls_last(), desc(column("id"))
        ).ddl_if(dialect="postgresql"),
        Index("ix_tickets_updated_at", "updated_at"),  # the report roll-ups' watermark (backend/services/rollups.py)
        Index("ix_tickets_unflagged_overdue", "overdue", "status", "deadline"),  # overdue not yet flagged (reports)
        Index("ix_tickets_category_created", "category", "created_at"),  # the reports' topic samples
        Index("ix_tickets_unit_created", "unit_code", "created_at"),  # a unit's tickets of a period (reports)
        Index(
            "ix_tickets_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(64))
    intent_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    category: Mapped[str | None] = mapped_column(String(64), index=True)
    category_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    location_text: Mapped[str | None] = mapped_column(String(300))
    province_code: Mapped[str | None] = mapped_column(String(16))
    commune_code: Mapped[str | None] = mapped_column(String(16))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    unit_code: Mapped[str] = mapped_column(ForeignKey("org_units.code"), index=True)
    routing_rule: Mapped[str] = mapped_column(String(64), default="")
    routing_reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), index=True, default="moi")
    accept_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated_to: Mapped[str | None] = mapped_column(ForeignKey("org_units.code"))
    handoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    nlu: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    personal_data_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # retention / erasure
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)  # one official's username
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")  # folded code, text, place

    unit: Mapped[OrgUnit] = relationship(foreign_keys=[unit_code], lazy="joined")
    citizen: Mapped[Citizen] = relationship(lazy="joined")


@event.listens_for(Ticket, "before_insert")
@event.listens_for(Ticket, "before_update")
def _fold_search_text(_mapper: Any, _connection: Any, ticket: Ticket) -> None:
    """Keep the search key in step with the text on every write (filing, corrections, erasure of personal data)."""
    ticket.search_text = search_key(ticket.code, ticket.text, ticket.location_text)


class TicketEvent(Base):
    """History of a ticket: who did what, when and why."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # created|routed|status|reply|note|info|rating|...
    actor_type: Mapped[str] = mapped_column(String(16))  # citizen|official|system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    old_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


_BACKLOG = text("direction = 'in' AND processed_at IS NULL")
_PENDING = text("status = 'pending'")


class Message(Base):
    """Every message in or out, stored once. Inbound is idempotent on (channel, platform id)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "direction", "platform_message_id", name="uq_messages_platform_id"),
        # the inbound backlog only (a few rows, however many messages were processed): the worker's claim walks it
        # in id order and checks each citizen's older unprocessed message (backend/workers/inbound.py)
        Index("ix_messages_backlog", "id", postgresql_where=_BACKLOG, sqlite_where=_BACKLOG),
        Index("ix_messages_backlog_citizen", "citizen_id", "id", postgresql_where=_BACKLOG, sqlite_where=_BACKLOG),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(4))  # in | out
    platform_message_id: Mapped[str | None] = mapped_column(String(160))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    draft_id: Mapped[str | None] = mapped_column(String(32), index=True)  # the draft this message helped build
    kind: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # normalised payload / buttons
    author: Mapped[str | None] = mapped_column(String(64))  # official username for replies, "bot" otherwise
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    process_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    process_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Official(Base):
    __tablename__ = "officials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # officer | supervisor | admin
    unit_code: Mapped[str] = mapped_column(ForeignKey("org_units.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_version: Mapped[int] = mapped_column(Integer, default=0)  # bumped to revoke every API token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    unit: Mapped[OrgUnit] = relationship(lazy="joined")


class OfficialSession(Base):
    """A console login, kept server-side so that logging out really ends it. Only a SHA-256 of the id is stored."""

    __tablename__ = "official_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxItem(Base):
    """A message waiting to be delivered to a citizen; nothing leaves without passing here."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # the pending queue only, however many items were delivered: the outbox's claim walks it in id order and
        # checks each chat's older pending item (backend/workers/outbox.py)
        Index("ix_outbox_pending", "id", postgresql_where=_PENDING, sqlite_where=_PENDING),
        Index("ix_outbox_pending_chat", "channel", "chat_id", "id", postgresql_where=_PENDING, sqlite_where=_PENDING),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reply_to: Mapped[str | None] = mapped_column(String(160))
    author: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|sent|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    platform_message_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditLog(Base):
    """Every view and change of personal data by an official."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class TicketAlert(Base):
    """Another committee that must see a ticket: routing alerts (emergencies) and escalations."""

    __tablename__ = "ticket_alerts"
    __table_args__ = (UniqueConstraint("ticket_id", "unit_code", "kind", name="uq_ticket_alerts_once"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("org_units.code"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # alert | escalation
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    """Integrators' keys (Open311 write access). Only a SHA-256 of the key is stored."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("org_units.code"), default="TW")  # the key reads this subtree
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NluCorrection(Base):
    """An official's correction of the NLU's labels: a future training example."""

    __tablename__ = "nlu_corrections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    predicted: Mapped[str] = mapped_column(String(100))  # e.g. gui_phan_anh/ha_tang
    corrected: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str | None] = mapped_column(String(64))
    official: Mapped[str] = mapped_column(String(64))
    exported: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # the admins' review (backend/services/nlu_workbench.py): category | not_petition | place
    kind: Mapped[str] = mapped_column(String(16), default="category", server_default="category")
    text_key: Mapped[str] = mapped_column(String(64), default="", server_default="", index=True)  # normalised text
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending", index=True)
    label: Mapped[str | None] = mapped_column(String(100))  # the reviewed label (or commune code for a place)
    reviewer: Mapped[str | None] = mapped_column(String(64))  # an admin, or "majority"
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Credential(Base):
    """Channel credentials that rotate at run time (e.g. Zalo OA access/refresh tokens)."""

    __tablename__ = "credentials"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


from backend.db import console_models as _console_models  # noqa: E402, F401  (reply templates)
from backend.db import inbox_models as _inbox_models  # noqa: E402, F401  (saved views of the inbox)
from backend.db import nlu_workbench_models as _nlu_workbench_models  # noqa: E402, F401  (NLU jobs, models, aliases)
from backend.db import official_links_models as _official_links_models  # noqa: E402, F401  (officials on Telegram)
from backend.db import report_models as _report_models  # noqa: E402, F401  (summary reports: topic alerts)
from backend.db import report_store_models as _report_store_models  # noqa: E402, F401  (generated reports, notices)
from backend.db import rollup_models as _rollup_models  # noqa: E402, F401  (daily report roll-ups)
