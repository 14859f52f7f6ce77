"""report topics

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import backend.db.models  # noqa: F401  (custom column types)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topic_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("topic_key", sa.String(length=200), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("previous", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", backend.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_code"], ["org_units.code"], name=op.f("fk_topic_alerts_unit_code_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_alerts")),
        sa.UniqueConstraint("unit_code", "topic_key", "week", name="uq_topic_alerts_once"),
    )
    with op.batch_alter_table("topic_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_topic_alerts_unit_created", ["unit_code", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("topic_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_topic_alerts_unit_created")
    op.drop_table("topic_alerts")
