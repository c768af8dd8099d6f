"""hostile input and outages: the IoT replay guard in the database, battery readings dated

Revision ID: 0010_hostile_input
Revises: 0009_alerts
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010_hostile_input'
down_revision = '0009_alerts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('iot_batch_receipts',
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'signature', name=op.f('pk_iot_batch_receipts'))
    )
    op.create_index(op.f('ix_iot_batch_receipts_received_at'), 'iot_batch_receipts', ['received_at'], unique=False)
    with op.batch_alter_table('devices') as batch_op:
        batch_op.add_column(sa.Column('battery_at', sa.DateTime(timezone=True), nullable=True))
    # The best that is known of existing levels: they were set by a reading no later than the last one heard.
    op.execute("UPDATE devices SET battery_at = last_seen_at WHERE battery_percent IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('devices') as batch_op:
        batch_op.drop_column('battery_at')
    op.drop_index(op.f('ix_iot_batch_receipts_received_at'), table_name='iot_batch_receipts')
    op.drop_table('iot_batch_receipts')
