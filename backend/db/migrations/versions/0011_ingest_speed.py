"""ingest and processing speed

The inbound worker's claim (backend/workers/inbound.py) looks for the oldest unprocessed message of each citizen.
With only ``ix_messages_pending (direction, processed_at)`` it walked the primary key and filtered out every message
already processed (millions, in production) or, on a young table, chose a plan that took half a second per claim.
Two partial indexes hold only the backlog: the claim's scan in id order and its per-citizen "older unprocessed
message" check read a few rows whatever the size of the table. The outbox's claim gets the same pair over its
pending items.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import backend.db.models  # noqa: F401  (custom column types)

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BACKLOG = sa.text("direction = 'in' AND processed_at IS NULL")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_backlog", ["id"], unique=False, postgresql_where=BACKLOG, sqlite_where=BACKLOG
        )
        batch_op.create_index(
            "ix_messages_backlog_citizen",
            ["citizen_id", "id"],
            unique=False,
            postgresql_where=BACKLOG,
            sqlite_where=BACKLOG,
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_pending", ["id"], unique=False, postgresql_where=PENDING, sqlite_where=PENDING)
        batch_op.create_index(
            "ix_outbox_pending_chat",
            ["channel", "chat_id", "id"],
            unique=False,
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending_chat")
        batch_op.drop_index("ix_outbox_pending")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_backlog_citizen")
        batch_op.drop_index("ix_messages_backlog")
