"""NLU workbench: reviewed corrections, training jobs, models

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import backend.db.models  # noqa: F401  (custom column types)
from backend.db.base import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nlu_corrections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="category", nullable=False))
        batch_op.add_column(sa.Column("text_key", sa.String(length=64), server_default="", nullable=False))
        batch_op.add_column(sa.Column("status", sa.String(length=16), server_default="pending", nullable=False))
        batch_op.add_column(sa.Column("label", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("reviewer", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_nlu_corrections_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_nlu_corrections_text_key"), ["text_key"], unique=False)
    # corrections recorded before the review queue existed wait for review like new ones; their text key is filled in
    from backend.services.nlu_review import text_key

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, text FROM nlu_corrections")).all()
    for row_id, text in rows:
        conn.execute(
            sa.text("UPDATE nlu_corrections SET text_key = :k WHERE id = :i"), {"k": text_key(text), "i": row_id}
        )

    op.create_table(
        "nlu_train_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("evaluation", sa.JSON(), nullable=True),
        sa.Column("confusion_png", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_train_jobs")),
    )
    with op.batch_alter_table("nlu_train_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nlu_train_jobs_status"), ["status"], unique=False)
    op.create_table(
        "nlu_models",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("examples", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("realworld_category_accuracy", sa.Float(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_nlu_models")),
    )
    op.create_table(
        "nlu_place_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("commune_code", sa.String(length=16), nullable=False),
        sa.Column("correction_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_place_aliases")),
        sa.UniqueConstraint("key", name=op.f("uq_nlu_place_aliases_key")),
    )


def downgrade() -> None:
    op.drop_table("nlu_place_aliases")
    op.drop_table("nlu_models")
    with op.batch_alter_table("nlu_train_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nlu_train_jobs_status"))
    op.drop_table("nlu_train_jobs")
    with op.batch_alter_table("nlu_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nlu_corrections_text_key"))
        batch_op.drop_index(batch_op.f("ix_nlu_corrections_status"))
        for name in ("reviewed_at", "reviewer", "label", "status", "text_key", "kind"):
            batch_op.drop_column(name)
