"""reports store

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import backend.db.models  # noqa: F401  (custom column types)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "generated_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("period_label", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", backend.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["org_units.code"], name=op.f("fk_generated_reports_unit_code_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generated_reports")),
        sa.UniqueConstraint("unit_code", "period_start", "period_end", "format", name="uq_generated_reports_once"),
    )
    with op.batch_alter_table("generated_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_generated_reports_unit_code"), ["unit_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_generated_reports_created_at"), ["created_at"], unique=False)

    op.create_table(
        "console_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=True),
        sa.Column("created_at", backend.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_code"], ["org_units.code"], name=op.f("fk_console_notices_unit_code_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_notices")),
    )
    with op.batch_alter_table("console_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_console_notices_unit_code"), ["unit_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_console_notices_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("console_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_notices_created_at"))
        batch_op.drop_index(batch_op.f("ix_console_notices_unit_code"))
    op.drop_table("console_notices")
    with op.batch_alter_table("generated_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generated_reports_created_at"))
        batch_op.drop_index(batch_op.f("ix_generated_reports_unit_code"))
    op.drop_table("generated_reports")
