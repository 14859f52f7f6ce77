"""inbox search at a million tickets

PostgreSQL: the inbox's default order (urgent, overdue, nearest deadline) as an index in that very order (the
index it replaces had every column ascending, so PostgreSQL read whole groups of tickets and sorted them). The
category, channel and filing time follow the order's columns: walking the index, PostgreSQL checks those filters
in the index itself and reads only the tickets that pass (urgent tickets are mostly disasters: a walk for roads
would otherwise read every urgent ticket first).
Both: an index for the order by deadline (backend/services/ticket_query.py); PostgreSQL another for the order by
deadline latest first (tickets without a deadline last both ways, which one index cannot give).
SQLite: an FTS5 trigram index over ``tickets.search_text`` (the folded code, text and place of
backend/domain/search.py), kept in step by triggers, so that text search no longer reads every ticket.

On a large PostgreSQL database create the three indexes first with CREATE INDEX CONCURRENTLY (same names and
columns): this revision then finds them (IF NOT EXISTS) instead of locking the tickets while it builds them.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import backend.db.models  # noqa: F401  (custom column types)

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# SQLite: an external-content FTS5 table (the text lives only in tickets.search_text; rowid = tickets.id). A later
# migration that rebuilds the tickets table (batch "move and copy") drops these triggers with it and must create
# them again: the inbox's search tests fail on SQLite when they are missing.
SQLITE_UP = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS tickets_search USING fts5("
    "search_text, content='tickets', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS tickets_search_insert AFTER INSERT ON tickets BEGIN "
    "INSERT INTO tickets_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS tickets_search_delete AFTER DELETE ON tickets BEGIN "
    "INSERT INTO tickets_search(tickets_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS tickets_search_update AFTER UPDATE OF search_text ON tickets BEGIN "
    "INSERT INTO tickets_search(tickets_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO tickets_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO tickets_search(tickets_search) VALUES ('rebuild')",  # the tickets filed before this revision
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS tickets_search_update",
    "DROP TRIGGER IF EXISTS tickets_search_delete",
    "DROP TRIGGER IF EXISTS tickets_search_insert",
    "DROP TABLE IF EXISTS tickets_search",
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_tickets_inbox_order", table_name="tickets", if_exists=True)
    if postgres:  # SQLite sorts an embedded database's tickets without it
        op.create_index(
            "ix_tickets_inbox_urgency",
            "tickets",
            [sa.text("urgent DESC"), sa.text("overdue DESC"), "deadline", "id", "category", "channel", "created_at"],
            if_not_exists=True,
        )
    op.create_index("ix_tickets_deadline", "tickets", ["deadline", "id"], if_not_exists=True)
    if postgres:
        op.create_index(
            "ix_tickets_deadline_desc",
            "tickets",
            [sa.text("deadline DESC NULLS LAST"), sa.text("id DESC")],
            if_not_exists=True,
        )
    if not postgres:
        for statement in SQLITE_UP:
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if not postgres:
        for statement in SQLITE_DOWN:
            op.execute(statement)
    op.drop_index("ix_tickets_deadline", table_name="tickets", if_exists=True)
    if postgres:
        op.drop_index("ix_tickets_deadline_desc", table_name="tickets", if_exists=True)
        op.drop_index("ix_tickets_inbox_urgency", table_name="tickets", if_exists=True)
    op.create_index("ix_tickets_inbox_order", "tickets", ["urgent", "overdue", "deadline", "id"], if_not_exists=True)
