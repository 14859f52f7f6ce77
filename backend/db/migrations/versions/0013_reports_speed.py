"""report summaries at a million tickets

The facts each ticket was rolled up with (``report_ticket_facts``): summaries correct the daily roll-ups by the
tickets changed since, instead of reading whole changed days from the tickets. A unit's tickets of a period are found
by ``ix_tickets_unit_created``. The roll-ups' state is cleared so that the worker rebuilds them with their facts.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import backend.db.models  # noqa: F401  (custom column types)

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_ticket_facts",
        sa.Column("ticket_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("response_centihours", sa.Integer(), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_report_ticket_facts")),
    )
    op.create_index("ix_report_ticket_facts_day", "report_ticket_facts", ["day"], unique=False)
    # created beforehand (CONCURRENTLY) on large databases: kept as it is
    op.create_index("ix_tickets_unit_created", "tickets", ["unit_code", "created_at"], unique=False, if_not_exists=True)
    # the roll-ups have no facts yet: summaries read the tickets until the worker's next pass rebuilds both
    op.execute(sa.text("DELETE FROM report_rollup_state"))


def downgrade() -> None:
    op.drop_index("ix_tickets_unit_created", table_name="tickets")
    op.drop_index("ix_report_ticket_facts_day", table_name="report_ticket_facts")
    op.drop_table("report_ticket_facts")
