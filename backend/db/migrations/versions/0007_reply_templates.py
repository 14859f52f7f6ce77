"""reply templates per unit

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import backend.db.models  # the custom column types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The central committee's defaults, inherited by every unit (editable by TW supervisors and admins).
DEFAULTS = [
    (
        "Đã tiếp nhận",
        "Kính gửi ông/bà, {unit} đã tiếp nhận phản ánh {code} và đang chuyển tới cơ quan chức năng xem xét. "
        "Chúng tôi sẽ trả lời ông/bà trước ngày {deadline}. Trân trọng cảm ơn ông/bà đã phản ánh.",
    ),
    (
        "Cần bổ sung thông tin",
        "Kính gửi ông/bà, để xử lý phản ánh {code}, {unit} cần ông/bà cho biết thêm địa chỉ cụ thể "
        "(số nhà, tên đường, thôn/tổ dân phố) và thời gian xảy ra sự việc. Ông/bà vui lòng trả lời ngay trong "
        "cuộc trò chuyện này. Trân trọng cảm ơn.",
    ),
    (
        "Đang xử lý",
        "Kính gửi ông/bà, phản ánh {code} đang được {unit} phối hợp với cơ quan chức năng xử lý. "
        "Kết quả sẽ được thông báo tới ông/bà trước ngày {deadline}. Trân trọng.",
    ),
    (
        "Đã có kết quả",
        "Kính gửi ông/bà, {unit} xin thông báo: phản ánh {code} đã được cơ quan chức năng xử lý xong. "
        "Ông/bà vui lòng đánh giá mức độ hài lòng để chúng tôi phục vụ tốt hơn. Trân trọng cảm ơn.",
    ),
]


def upgrade() -> None:
    table = op.create_table(
        "reply_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", backend.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", backend.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_templates")),
        sa.UniqueConstraint("unit_code", "name", name="uq_reply_templates_unit_name"),
    )
    with op.batch_alter_table("reply_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reply_templates_unit_code"), ["unit_code"], unique=False)
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {"unit_code": "TW", "name": name, "text": text, "created_by": "gopy", "created_at": now, "updated_at": now}
            for name, text in DEFAULTS
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("reply_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_templates_unit_code"))
    op.drop_table("reply_templates")
