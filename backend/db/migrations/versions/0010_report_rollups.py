"""daily report roll-ups

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import backend.db.models  # (custom column types)

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("response_centihours", sa.Integer(), nullable=True),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_daily")),
    )
    op.create_index("ix_report_daily_day_unit", "report_daily", ["day", "unit_code"], unique=False)
    op.create_table(
        "report_rollup_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("covered_until", sa.Date(), nullable=True),
        sa.Column("updated_until", backend.db.models.UTCDateTime(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", backend.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_rollup_state")),
    )
    op.create_table(
        "report_topic_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("computed_at", backend.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_report_topic_cache")),
    )
    op.create_index(op.f("ix_report_topic_cache_unit_code"), "report_topic_cache", ["unit_code"], unique=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_updated_at", ["updated_at"], unique=False)
        batch_op.create_index("ix_tickets_unflagged_overdue", ["overdue", "status", "deadline"], unique=False)
        batch_op.create_index("ix_tickets_category_created", ["category", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_category_created")
        batch_op.drop_index("ix_tickets_unflagged_overdue")
        batch_op.drop_index("ix_tickets_updated_at")
    op.drop_index(op.f("ix_report_topic_cache_unit_code"), table_name="report_topic_cache")
    op.drop_table("report_topic_cache")
    op.drop_table("report_rollup_state")
    op.drop_index("ix_report_daily_day_unit", table_name="report_daily")
    op.drop_table("report_daily")
