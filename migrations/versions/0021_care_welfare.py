"""care welfare step: nobody at the door tells the family first, staff later unless the family reports the
elder safe

`welfare_staff_due_at` is when the beat (`care.welfare_escalate`) tells staff, `welfare_staff_told_at` that it did
(once: the beat's UPDATE is conditional on it), `welfare_safe_*` the family's report. Orders already
not_delivered keep NULLs: their staff were told at once under the old rule.

Revision ID: 0021_care_welfare
Revises: 0020_read_path
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_care_welfare"
down_revision = "0020_read_path"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("care_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("welfare_staff_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("welfare_staff_told_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("welfare_safe_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("welfare_safe_by_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("welfare_safe_note", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_care_orders_welfare_safe_by_id_users"),
            "users",
            ["welfare_safe_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("care_orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_care_orders_welfare_safe_by_id_users"), type_="foreignkey")
        batch_op.drop_column("welfare_safe_note")
        batch_op.drop_column("welfare_safe_by_id")
        batch_op.drop_column("welfare_safe_at")
        batch_op.drop_column("welfare_staff_told_at")
        batch_op.drop_column("welfare_staff_due_at")
