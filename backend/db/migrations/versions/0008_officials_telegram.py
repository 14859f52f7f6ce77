"""officials on Telegram, live updates

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import backend.db.models  # noqa: F401  (custom column types)

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
