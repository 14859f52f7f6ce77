"""NLU workbench: reviewed corrections, training jobs, models

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import backend.db.models  # noqa: F401  (custom column types)

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
