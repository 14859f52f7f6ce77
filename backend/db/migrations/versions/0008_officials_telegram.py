"""officials on Telegram, live updates

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import backend.db.models  # custom column types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, backend.db.models.UTCDateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    ref_table = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{ref_table}"))


def upgrade() -> None:
    op.create_table(
        "official_channel_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("platform_user_id", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        _when("created_at"),
        _fk("official_channel_links", "official_id", "officials.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_official_channel_links")),
        sa.UniqueConstraint("channel", "chat_id", name="uq_official_channel_links_chat"),
        sa.UniqueConstraint("official_id", "channel", name="uq_official_channel_links_official"),
    )
    op.create_table(
        "official_link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        _when("expires_at"),
        _when("used_at", nullable=True),
        _when("created_at"),
        _fk("official_link_codes", "official_id", "officials.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_official_link_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_official_link_codes_code_hash")),
    )
    op.create_table(
        "official_ticket_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        _when("created_at"),
        _fk("official_ticket_notices", "ticket_id", "tickets.id"),
        _fk("official_ticket_notices", "official_id", "officials.id"),
        _fk("official_ticket_notices", "outbox_id", "outbox.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_official_ticket_notices")),
        sa.UniqueConstraint("ticket_id", "official_id", "kind", name="uq_official_ticket_notices_once"),
    )
    op.create_table(
        "official_reply_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        _when("created_at"),
        _when("decided_at", nullable=True),
        _fk("official_reply_drafts", "official_id", "officials.id"),
        _fk("official_reply_drafts", "ticket_id", "tickets.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_official_reply_drafts")),
    )
    for table, columns in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


INDEXES = {
    "official_channel_links": ["official_id"],
    "official_link_codes": ["official_id"],
    "official_ticket_notices": ["ticket_id", "official_id", "outbox_id"],
    "official_reply_drafts": ["official_id", "ticket_id"],
}


def downgrade() -> None:
    for table, columns in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
    for table in reversed(list(INDEXES)):
        op.drop_table(table)
