"""inbox search, filters and assignment

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import backend.db.models
from backend.domain.search import search_key

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))
        batch_op.create_index(batch_op.f("ix_tickets_assignee"), ["assignee"], unique=False)
        batch_op.create_index("ix_tickets_unit_status_deadline", ["unit_code", "status", "deadline"], unique=False)
        batch_op.create_index("ix_tickets_inbox_order", ["urgent", "overdue", "deadline", "id"], unique=False)
    _backfill_search_text()
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_tickets_search_trgm",
            "tickets",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("query", sa.String(length=1000), nullable=False),
        sa.Column("created_at", backend.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["official_id"], ["officials.id"], name=op.f("fk_saved_views_official_id_officials")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("official_id", "name", name="uq_saved_views_name"),
    )
    with op.batch_alter_table("saved_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_views_official_id"), ["official_id"], unique=False)


def _backfill_search_text() -> None:
    """The folded search key of the tickets filed before this revision, in batches by id."""
    bind = op.get_bind()
    tickets = sa.table(
        "tickets",
        sa.column("id", sa.Integer),
        sa.column("code", sa.String),
        sa.column("text", sa.Text),
        sa.column("location_text", sa.String),
        sa.column("search_text", sa.Text),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(tickets.c.id, tickets.c.code, tickets.c.text, tickets.c.location_text)
            .where(tickets.c.id > last)
            .order_by(tickets.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            tickets.update().where(tickets.c.id == sa.bindparam("tid")).values(search_text=sa.bindparam("key")),
            [{"tid": r.id, "key": search_key(r.code, r.text, r.location_text)} for r in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("saved_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_views_official_id"))
    op.drop_table("saved_views")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_tickets_search_trgm", table_name="tickets")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_inbox_order")
        batch_op.drop_index("ix_tickets_unit_status_deadline")
        batch_op.drop_index(batch_op.f("ix_tickets_assignee"))
        batch_op.drop_column("search_text")
        batch_op.drop_column("assignee")
